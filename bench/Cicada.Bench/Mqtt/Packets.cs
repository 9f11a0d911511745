using System.Buffers.Binary;

namespace Cicada.Bench.Mqtt;

/// <summary>MQTT 3.1.1 packet encoders: just what a load generator sends, written straight into a span.</summary>
internal static class Packets
{
    // MQTT 3.1.1 §2.2.1: control packet types in the high nibble of the first byte.
    public const byte Connect = 0x10;
    public const byte ConnAck = 0x20;
    public const byte Publish = 0x30;
    public const byte PubAck = 0x40;
    public const byte PubRec = 0x50;
    public const byte PubRel = 0x62; // §3.6.1: PUBREL's reserved flags are 0010.
    public const byte PubComp = 0x70;
    public const byte Subscribe = 0x82; // §3.8.1: SUBSCRIBE's reserved flags are 0010.
    public const byte SubAck = 0x90;
    public const byte PingReq = 0xC0;
    public const byte PingResp = 0xD0;
    public const byte Disconnect = 0xE0;

    private static ReadOnlySpan<byte> ProtocolName => "MQTT"u8;

    /// <summary>Bytes needed by the remaining-length field (§2.2.3: 7 bits per byte, at most 4 bytes).</summary>
    public static int VarIntSize(int value) => value < 128 ? 1 : value < 16_384 ? 2 : value < 2_097_152 ? 3 : 4;

    public static int WriteVarInt(Span<byte> destination, int value)
    {
        var i = 0;
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            destination[i++] = value > 0 ? (byte)(b | 0x80) : b;
        }
        while (value > 0);
        return i;
    }

    public static int ConnectSize(ReadOnlySpan<byte> clientId)
    {
        // §3.1.2: protocol name (2+4), level (1), flags (1), keep-alive (2); §3.1.3: client id (2+n).
        var remaining = 10 + 2 + clientId.Length;
        return 1 + VarIntSize(remaining) + remaining;
    }

    public static void WriteConnect(Span<byte> destination, ReadOnlySpan<byte> clientId, ushort keepAliveSeconds, bool cleanSession = true)
    {
        var remaining = 10 + 2 + clientId.Length;
        destination[0] = Connect;
        var i = 1 + WriteVarInt(destination[1..], remaining);
        BinaryPrimitives.WriteUInt16BigEndian(destination[i..], (ushort)ProtocolName.Length);
        ProtocolName.CopyTo(destination[(i + 2)..]);
        i += 6;
        destination[i++] = 4; // §3.1.2.2: protocol level 4 is MQTT 3.1.1.
        // §3.1.2.4: clean session unless asked for a persistent one; no will, no credentials.
        destination[i++] = cleanSession ? (byte)0x02 : (byte)0x00;
        BinaryPrimitives.WriteUInt16BigEndian(destination[i..], keepAliveSeconds);
        i += 2;
        BinaryPrimitives.WriteUInt16BigEndian(destination[i..], (ushort)clientId.Length);
        clientId.CopyTo(destination[(i + 2)..]);
    }

    public static int SubscribeSize(ReadOnlySpan<byte> filter)
    {
        var remaining = 2 + 2 + filter.Length + 1;
        return 1 + VarIntSize(remaining) + remaining;
    }

    public static void WriteSubscribe(Span<byte> destination, ushort packetId, ReadOnlySpan<byte> filter, int qos)
    {
        var remaining = 2 + 2 + filter.Length + 1;
        destination[0] = Subscribe;
        var i = 1 + WriteVarInt(destination[1..], remaining);
        BinaryPrimitives.WriteUInt16BigEndian(destination[i..], packetId);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(i + 2)..], (ushort)filter.Length);
        filter.CopyTo(destination[(i + 4)..]);
        destination[i + 4 + filter.Length] = (byte)qos;
    }

    public static int PublishSize(int topicLength, int qos, int payloadLength)
    {
        var remaining = PublishRemaining(topicLength, qos, payloadLength);
        return 1 + VarIntSize(remaining) + remaining;
    }

    private static int PublishRemaining(int topicLength, int qos, int payloadLength) =>
        2 + topicLength + (qos > 0 ? 2 : 0) + payloadLength;

    /// <summary>Writes PUBLISH up to the payload and returns where the payload goes.</summary>
    public static int WritePublishHeader(Span<byte> destination, ReadOnlySpan<byte> topic, int qos, ushort packetId, int payloadLength)
    {
        destination[0] = (byte)(Publish | (qos << 1));
        var i = 1 + WriteVarInt(destination[1..], PublishRemaining(topic.Length, qos, payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(destination[i..], (ushort)topic.Length);
        topic.CopyTo(destination[(i + 2)..]);
        i += 2 + topic.Length;
        if (qos > 0)
        {
            // §2.3.1: a packet identifier only for QoS 1 and 2.
            BinaryPrimitives.WriteUInt16BigEndian(destination[i..], packetId);
            i += 2;
        }

        return i;
    }

    /// <summary>PUBACK, PUBREC, PUBREL and PUBCOMP are all a type byte, length 2 and a packet id.</summary>
    public static void WriteAck(Span<byte> destination, byte type, ushort packetId)
    {
        destination[0] = type;
        destination[1] = 2;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], packetId);
    }

    public static string DescribeConnAckCode(int code) => code switch
    {
        // MQTT 3.1.1 §3.2.2.3, table 3.1.
        1 => "unacceptable protocol version",
        2 => "identifier rejected",
        3 => "server unavailable",
        4 => "bad user name or password",
        5 => "not authorized",
        _ => $"reserved code {code}",
    };
}
