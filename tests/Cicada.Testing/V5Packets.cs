using System.Buffers.Binary;
using System.Text;

namespace Cicada.Testing;

/// <summary>MQTT 5 property identifiers (§2.2.2.2), named for the tests.</summary>
public static class Prop
{
    public const byte PayloadFormatIndicator = 0x01;
    public const byte MessageExpiryInterval = 0x02;
    public const byte ContentType = 0x03;
    public const byte ResponseTopic = 0x08;
    public const byte CorrelationData = 0x09;
    public const byte SubscriptionIdentifier = 0x0B;
    public const byte SessionExpiryInterval = 0x11;
    public const byte AssignedClientIdentifier = 0x12;
    public const byte ServerKeepAlive = 0x13;
    public const byte AuthenticationMethod = 0x15;
    public const byte AuthenticationData = 0x16;
    public const byte WillDelayInterval = 0x18;
    public const byte ReasonString = 0x1F;
    public const byte ReceiveMaximum = 0x21;
    public const byte TopicAliasMaximum = 0x22;
    public const byte TopicAlias = 0x23;
    public const byte MaximumQos = 0x24;
    public const byte RetainAvailable = 0x25;
    public const byte UserProperty = 0x26;
    public const byte MaximumPacketSize = 0x27;
    public const byte WildcardSubscriptionAvailable = 0x28;
    public const byte SubscriptionIdentifierAvailable = 0x29;
    public const byte SharedSubscriptionAvailable = 0x2A;
}

/// <summary>A property block built byte by byte (§2.2.2): nothing validated, so tests can send what the spec forbids.</summary>
public sealed class V5Props
{
    private readonly List<byte> _bytes = [];

    public static V5Props None => new();

    public bool IsEmpty => _bytes.Count == 0;

    public V5Props Byte(byte id, byte value) => Raw(id, value);

    public V5Props UInt16(byte id, int value) => Raw(id, (byte)(value >> 8), (byte)value);

    public V5Props UInt32(byte id, uint value) => Raw(id, (byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value);

    public V5Props VarInt(byte id, int value) => Raw([id, .. MqttPackets.EncodeRemainingLength(value)]);

    public V5Props String(byte id, string value) => Binary(id, Encoding.UTF8.GetBytes(value));

    public V5Props Binary(byte id, byte[] value) => Raw([id, (byte)(value.Length >> 8), (byte)value.Length, .. value]);

    public V5Props User(string key, string value)
    {
        var k = Encoding.UTF8.GetBytes(key);
        var v = Encoding.UTF8.GetBytes(value);
        return Raw([Prop.UserProperty, (byte)(k.Length >> 8), (byte)k.Length, .. k, (byte)(v.Length >> 8), (byte)v.Length, .. v]);
    }

    public V5Props Raw(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    /// <summary>Variable Byte Integer length, then the properties.</summary>
    public byte[] Block() => [.. MqttPackets.EncodeRemainingLength(_bytes.Count), .. _bytes];
}

/// <summary>Everything a hand-built MQTT 5 CONNECT can carry.</summary>
public sealed record V5Connect
{
    public string ClientId { get; init; } = "";

    public bool CleanStart { get; init; } = true;

    public ushort KeepAlive { get; init; } = 60;

    public uint? SessionExpiry { get; init; }

    public ushort? ReceiveMaximum { get; init; }

    public uint? MaximumPacketSize { get; init; }

    public ushort? TopicAliasMaximum { get; init; }

    /// <summary>Further CONNECT properties, appended after the ones above.</summary>
    public V5Props? Properties { get; init; }

    public string? WillTopic { get; init; }

    public byte[] WillPayload { get; init; } = [];

    public int WillQoS { get; init; }

    public bool WillRetain { get; init; }

    public V5Props? WillProperties { get; init; }

    public string? UserName { get; init; }

    public string? Password { get; init; }
}

/// <summary>Hand-built MQTT 5 packets (§3) as bytes.</summary>
public static class V5Packets
{
    public static byte[] Connect(V5Connect o)
    {
        var props = new V5Props();
        if (o.SessionExpiry is { } expiry)
        {
            props.UInt32(Prop.SessionExpiryInterval, expiry);
        }

        if (o.ReceiveMaximum is { } receiveMaximum)
        {
            props.UInt16(Prop.ReceiveMaximum, receiveMaximum);
        }

        if (o.MaximumPacketSize is { } maximumPacketSize)
        {
            props.UInt32(Prop.MaximumPacketSize, maximumPacketSize);
        }

        if (o.TopicAliasMaximum is { } aliasMaximum)
        {
            props.UInt16(Prop.TopicAliasMaximum, aliasMaximum);
        }

        var body = new List<byte>();
        AppendString(body, "MQTT");
        body.Add(5);
        var flags = (o.CleanStart ? 0x02 : 0)
            | (o.WillTopic is not null ? 0x04 | (o.WillQoS << 3) | (o.WillRetain ? 0x20 : 0) : 0)
            | (o.Password is not null ? 0x40 : 0)
            | (o.UserName is not null ? 0x80 : 0);
        body.Add((byte)flags);
        body.Add((byte)(o.KeepAlive >> 8));
        body.Add((byte)o.KeepAlive);
        body.AddRange(Concat(props, o.Properties));
        AppendString(body, o.ClientId);
        if (o.WillTopic is not null)
        {
            body.AddRange((o.WillProperties ?? V5Props.None).Block());
            AppendString(body, o.WillTopic);
            AppendBinary(body, o.WillPayload);
        }

        if (o.UserName is not null)
        {
            AppendString(body, o.UserName);
        }

        if (o.Password is not null)
        {
            AppendString(body, o.Password);
        }

        return MqttPackets.Frame(0x10, [.. body]);
    }

    public static byte[] Publish(string topic, byte[] payload, int qos = 0, ushort packetId = 0, bool retain = false, bool dup = false, V5Props? props = null)
    {
        var body = new List<byte>();
        AppendString(body, topic);
        if (qos > 0)
        {
            body.Add((byte)(packetId >> 8));
            body.Add((byte)packetId);
        }

        body.AddRange((props ?? V5Props.None).Block());
        body.AddRange(payload);
        return MqttPackets.Frame((byte)(0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0)), [.. body]);
    }

    public static byte[] Publish(string topic, string payload, int qos = 0, ushort packetId = 0, bool retain = false, V5Props? props = null) =>
        Publish(topic, Encoding.UTF8.GetBytes(payload), qos, packetId, retain, dup: false, props);

    /// <summary>Subscription options byte (§3.8.3.1).</summary>
    public static byte Options(int qos, bool noLocal = false, bool retainAsPublished = false, int retainHandling = 0) =>
        (byte)(qos | (noLocal ? 0x04 : 0) | (retainAsPublished ? 0x08 : 0) | (retainHandling << 4));

    public static byte[] Subscribe(ushort packetId, int? subscriptionId, params (string Filter, byte Options)[] filters)
    {
        var props = new V5Props();
        if (subscriptionId is { } id)
        {
            props.VarInt(Prop.SubscriptionIdentifier, id);
        }

        var body = new List<byte> { (byte)(packetId >> 8), (byte)packetId };
        body.AddRange(props.Block());
        foreach (var (filter, options) in filters)
        {
            AppendString(body, filter);
            body.Add(options);
        }

        return MqttPackets.Frame(0x82, [.. body]);
    }

    public static byte[] Unsubscribe(ushort packetId, params string[] filters)
    {
        var body = new List<byte> { (byte)(packetId >> 8), (byte)packetId, 0x00 };
        foreach (var filter in filters)
        {
            AppendString(body, filter);
        }

        return MqttPackets.Frame(0xA2, [.. body]);
    }

    /// <summary>PUBACK/PUBREC/PUBREL/PUBCOMP with a reason code (§3.4.2.1); <paramref name="header"/> 0x40, 0x50, 0x62 or 0x70.</summary>
    public static byte[] Ack(byte header, ushort packetId, byte reason, V5Props? props = null) =>
        MqttPackets.Frame(header, [(byte)(packetId >> 8), (byte)packetId, reason, .. (props ?? V5Props.None).Block()]);

    public static byte[] Disconnect(byte reason = 0x00, V5Props? props = null) =>
        MqttPackets.Frame(0xE0, [reason, .. (props ?? V5Props.None).Block()]);

    public static byte[] Auth(byte reason, V5Props props) => MqttPackets.Frame(0xF0, [reason, .. props.Block()]);

    private static byte[] Concat(V5Props first, V5Props? more)
    {
        if (more is null || more.IsEmpty)
        {
            return first.Block();
        }

        // Both blocks without their length prefixes, under one new prefix.
        var a = StripLength(first.Block());
        var b = StripLength(more.Block());
        return [.. MqttPackets.EncodeRemainingLength(a.Length + b.Length), .. a, .. b];
    }

    private static byte[] StripLength(byte[] block)
    {
        var i = 0;
        while ((block[i] & 0x80) != 0)
        {
            i++;
        }

        return block[(i + 1)..];
    }

    private static void AppendString(List<byte> target, string value) => AppendBinary(target, Encoding.UTF8.GetBytes(value));

    private static void AppendBinary(List<byte> target, byte[] value)
    {
        target.Add((byte)(value.Length >> 8));
        target.Add((byte)value.Length);
        target.AddRange(value);
    }
}

/// <summary>A property read off the wire; values are byte, ushort, uint, int (varint), string, byte[] or (string Key, string Value).</summary>
public readonly record struct WireProperty(byte Id, object Value);

/// <summary>The MQTT 5 fields of a received packet, decoded strictly (a malformed packet from the broker fails the test).</summary>
public static class V5Read
{
    public static List<WireProperty> Properties(ReadOnlySpan<byte> span, ref int position)
    {
        var length = VarInt(span, ref position);
        var end = position + length;
        var props = new List<WireProperty>();
        while (position < end)
        {
            var id = span[position++];
            object value = id switch
            {
                0x01 or 0x17 or 0x19 or 0x24 or 0x25 or 0x28 or 0x29 or 0x2A => span[position++],
                0x13 or 0x21 or 0x22 or 0x23 => (ushort)Read16(span, ref position),
                0x02 or 0x11 or 0x18 or 0x27 => Read32(span, ref position),
                0x0B => VarInt(span, ref position),
                0x03 or 0x08 or 0x12 or 0x15 or 0x1A or 0x1C or 0x1F => Encoding.UTF8.GetString(Binary(span, ref position)),
                0x09 or 0x16 => Binary(span, ref position),
                0x26 => (Encoding.UTF8.GetString(Binary(span, ref position)), Encoding.UTF8.GetString(Binary(span, ref position))),
                _ => throw new InvalidOperationException($"The broker sent unknown property 0x{id:X2}."),
            };
            props.Add(new WireProperty(id, value));
        }

        if (position != end)
        {
            throw new InvalidOperationException("The broker's property block overran its length.");
        }

        return props;
    }

    public static int VarInt(ReadOnlySpan<byte> span, ref int position)
    {
        var value = 0;
        for (var shift = 0; shift < 28; shift += 7)
        {
            var b = span[position++];
            value |= (b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new InvalidOperationException("Variable Byte Integer longer than four bytes.");
    }

    private static int Read16(ReadOnlySpan<byte> span, ref int position)
    {
        var value = BinaryPrimitives.ReadUInt16BigEndian(span[position..]);
        position += 2;
        return value;
    }

    private static uint Read32(ReadOnlySpan<byte> span, ref int position)
    {
        var value = BinaryPrimitives.ReadUInt32BigEndian(span[position..]);
        position += 4;
        return value;
    }

    private static byte[] Binary(ReadOnlySpan<byte> span, ref int position)
    {
        var length = Read16(span, ref position);
        var value = span.Slice(position, length).ToArray();
        position += length;
        return value;
    }

    public static T? Get<T>(this IEnumerable<WireProperty> props, byte id) =>
        props.Where(p => p.Id == id).Select(p => (T?)p.Value).SingleOrDefault();

    public static bool Has(this IEnumerable<WireProperty> props, byte id) => props.Any(p => p.Id == id);

    public static List<T> All<T>(this IEnumerable<WireProperty> props, byte id) => [.. props.Where(p => p.Id == id).Select(p => (T)p.Value)];
}

/// <summary>A CONNACK as an MQTT 5 client reads it (§3.2.2).</summary>
public sealed record V5ConnAck(bool SessionPresent, byte Reason, List<WireProperty> Properties)
{
    public static V5ConnAck From(MqttPacket packet)
    {
        Assert.Equal(PacketType.ConnAck, packet.Type);
        var position = 2;
        var props = packet.Body.Length > 2 ? V5Read.Properties(packet.Body, ref position) : [];
        Assert.Equal(packet.Body.Length, position);
        return new V5ConnAck((packet.Body[0] & 1) != 0, packet.Body[1], props);
    }
}

/// <summary>A PUBLISH as an MQTT 5 client reads it (§3.3): topic (empty with an alias), id, properties, payload.</summary>
public sealed record V5Publish(string Topic, int QoS, bool Retain, bool Dup, ushort PacketId, List<WireProperty> Properties, byte[] Payload)
{
    public string PayloadText => Encoding.UTF8.GetString(Payload);

    public ushort? TopicAlias => Properties.Get<ushort?>(Prop.TopicAlias);

    public List<int> SubscriptionIds => Properties.All<int>(Prop.SubscriptionIdentifier);

    public uint? MessageExpiry => Properties.Get<uint?>(Prop.MessageExpiryInterval);

    public static V5Publish From(MqttPacket packet)
    {
        Assert.True(packet.Type == PacketType.Publish, $"Expected PUBLISH but received {packet}.");
        var body = packet.Body;
        var topicLength = BinaryPrimitives.ReadUInt16BigEndian(body);
        var topic = Encoding.UTF8.GetString(body, 2, topicLength);
        var position = 2 + topicLength;
        ushort id = 0;
        if (packet.QoS > 0)
        {
            id = BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(position));
            position += 2;
        }

        var props = V5Read.Properties(body, ref position);
        return new V5Publish(topic, packet.QoS, packet.Retain, packet.Dup, id, props, body[position..]);
    }

    public override string ToString() =>
        $"PUBLISH(topic='{Topic}', qos={QoS}, retain={Retain}, id={PacketId}, props=[{string.Join(", ", Properties.Select(p => $"0x{p.Id:X2}={p.Value}"))}], payload='{PayloadText}')";
}

public static class V5PacketExtensions
{
    /// <summary>The reason code of a PUBACK/PUBREC/PUBREL/PUBCOMP: 0x00 when the short form was used (§3.4.2.1).</summary>
    public static byte AckReason(this MqttPacket packet) => packet.Body.Length > 2 ? packet.Body[2] : (byte)0;

    /// <summary>SUBACK/UNSUBACK reason codes, after the packet id and the property block (§3.9.3, §3.11.3).</summary>
    public static byte[] V5ReasonCodes(this MqttPacket packet)
    {
        var position = 2;
        V5Read.Properties(packet.Body, ref position);
        return packet.Body[position..];
    }

    /// <summary>The reason code of a DISCONNECT: 0x00 when it has no body (§3.14.2.1).</summary>
    public static byte DisconnectReason(this MqttPacket packet)
    {
        Assert.True(packet.Type == PacketType.Disconnect, $"Expected DISCONNECT but received {packet}.");
        return packet.Body.Length > 0 ? packet.Body[0] : (byte)0;
    }
}
