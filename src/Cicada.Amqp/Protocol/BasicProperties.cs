namespace Cicada.Amqp.Protocol;

/// <summary>The basic class's content properties (amqp0-9-1.xml, class basic, fields 1..14).</summary>
internal sealed class BasicProperties
{
    // Property flags: the first property is the highest bit of the first flag word (§4.2.6.1).
    private const ushort ContentTypeFlag = 1 << 15;
    private const ushort ContentEncodingFlag = 1 << 14;
    private const ushort HeadersFlag = 1 << 13;
    private const ushort DeliveryModeFlag = 1 << 12;
    private const ushort PriorityFlag = 1 << 11;
    private const ushort CorrelationIdFlag = 1 << 10;
    private const ushort ReplyToFlag = 1 << 9;
    private const ushort ExpirationFlag = 1 << 8;
    private const ushort MessageIdFlag = 1 << 7;
    private const ushort TimestampFlag = 1 << 6;
    private const ushort TypeFlag = 1 << 5;
    private const ushort UserIdFlag = 1 << 4;
    private const ushort AppIdFlag = 1 << 3;
    private const ushort ClusterIdFlag = 1 << 2;

    public string? ContentType { get; set; }
    public string? ContentEncoding { get; set; }
    public Dictionary<string, object?>? Headers { get; set; }
    public byte? DeliveryMode { get; set; }
    public byte? Priority { get; set; }
    public string? CorrelationId { get; set; }
    public string? ReplyTo { get; set; }
    public string? Expiration { get; set; }
    public string? MessageId { get; set; }
    public ulong? Timestamp { get; set; }
    public string? Type { get; set; }
    public string? UserId { get; set; }
    public string? AppId { get; set; }
    public string? ClusterId { get; set; }

    /// <summary>Delivery mode 2 (§basic.delivery-mode): the message is to be kept by durable queues.</summary>
    public bool Persistent => DeliveryMode == 2;

    /// <summary>Decodes the flag word(s) and property list of a content header, after class, weight and body size.</summary>
    public static BasicProperties Read(ref AmqpReader reader)
    {
        var flags = reader.ReadShort();

        // A set low bit means another flag word follows (§4.2.6.1); basic has only 14 properties,
        // so further words must be all zero: skip them.
        var more = flags;
        while ((more & 1) != 0)
        {
            more = reader.ReadShort();
        }

        var p = new BasicProperties();
        if ((flags & ContentTypeFlag) != 0) p.ContentType = reader.ReadShortString();
        if ((flags & ContentEncodingFlag) != 0) p.ContentEncoding = reader.ReadShortString();
        if ((flags & HeadersFlag) != 0) p.Headers = reader.ReadTable();
        if ((flags & DeliveryModeFlag) != 0) p.DeliveryMode = reader.ReadOctet();
        if ((flags & PriorityFlag) != 0) p.Priority = reader.ReadOctet();
        if ((flags & CorrelationIdFlag) != 0) p.CorrelationId = reader.ReadShortString();
        if ((flags & ReplyToFlag) != 0) p.ReplyTo = reader.ReadShortString();
        if ((flags & ExpirationFlag) != 0) p.Expiration = reader.ReadShortString();
        if ((flags & MessageIdFlag) != 0) p.MessageId = reader.ReadShortString();
        if ((flags & TimestampFlag) != 0) p.Timestamp = reader.ReadLongLong();
        if ((flags & TypeFlag) != 0) p.Type = reader.ReadShortString();
        if ((flags & UserIdFlag) != 0) p.UserId = reader.ReadShortString();
        if ((flags & AppIdFlag) != 0) p.AppId = reader.ReadShortString();
        if ((flags & ClusterIdFlag) != 0) p.ClusterId = reader.ReadShortString();
        return p;
    }

    /// <summary>Writes the flag word and the property list (not the class/weight/size prefix).</summary>
    public void Write(FrameWriter writer)
    {
        ushort flags = 0;
        if (ContentType is not null) flags |= ContentTypeFlag;
        if (ContentEncoding is not null) flags |= ContentEncodingFlag;
        if (Headers is not null) flags |= HeadersFlag;
        if (DeliveryMode is not null) flags |= DeliveryModeFlag;
        if (Priority is not null) flags |= PriorityFlag;
        if (CorrelationId is not null) flags |= CorrelationIdFlag;
        if (ReplyTo is not null) flags |= ReplyToFlag;
        if (Expiration is not null) flags |= ExpirationFlag;
        if (MessageId is not null) flags |= MessageIdFlag;
        if (Timestamp is not null) flags |= TimestampFlag;
        if (Type is not null) flags |= TypeFlag;
        if (UserId is not null) flags |= UserIdFlag;
        if (AppId is not null) flags |= AppIdFlag;
        if (ClusterId is not null) flags |= ClusterIdFlag;

        writer.WriteShort(flags);
        if (ContentType is not null) writer.WriteShortString(ContentType);
        if (ContentEncoding is not null) writer.WriteShortString(ContentEncoding);
        if (Headers is not null) writer.WriteTable(Headers);
        if (DeliveryMode is { } mode) writer.WriteOctet(mode);
        if (Priority is { } priority) writer.WriteOctet(priority);
        if (CorrelationId is not null) writer.WriteShortString(CorrelationId);
        if (ReplyTo is not null) writer.WriteShortString(ReplyTo);
        if (Expiration is not null) writer.WriteShortString(Expiration);
        if (MessageId is not null) writer.WriteShortString(MessageId);
        if (Timestamp is { } timestamp) writer.WriteLongLong(timestamp);
        if (Type is not null) writer.WriteShortString(Type);
        if (UserId is not null) writer.WriteShortString(UserId);
        if (AppId is not null) writer.WriteShortString(AppId);
        if (ClusterId is not null) writer.WriteShortString(ClusterId);
    }

    /// <summary>The encoded flag word and property list, as a content header carries them.</summary>
    public byte[] Encode()
    {
        var writer = new FrameWriter(64);
        Write(writer);
        return writer.Written.ToArray();
    }
}

/// <summary>The fixed part of a content header frame (§4.2.6.1).</summary>
internal readonly record struct ContentHeader(ushort Class, ulong BodySize, BasicProperties Properties, byte[] RawProperties)
{
    public static ContentHeader Read(ReadOnlySpan<byte> payload)
    {
        var reader = new AmqpReader(payload);
        var classId = reader.ReadShort();
        reader.ReadShort(); // weight: unused, must be zero
        var bodySize = reader.ReadLongLong();
        var propertiesStart = payload.Length - reader.Remaining;
        var properties = BasicProperties.Read(ref reader);
        return new ContentHeader(classId, bodySize, properties, payload[propertiesStart..].ToArray());
    }

    /// <summary>Writes a whole content header frame with already encoded properties.</summary>
    public static void Write(FrameWriter writer, ushort channel, ulong bodySize, ReadOnlySpan<byte> rawProperties)
    {
        writer.BeginFrame(FrameType.Header, channel);
        writer.WriteShort(ClassId.Basic);
        writer.WriteShort(0);
        writer.WriteLongLong(bodySize);
        writer.WriteBytes(rawProperties);
        writer.EndFrame();
    }
}
