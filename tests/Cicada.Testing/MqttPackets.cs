using System.Text;

namespace Cicada.Testing;

public enum MqttVersion
{
    /// <summary>MQTT 3.1: protocol name "MQIsdp", level 3.</summary>
    V31,

    /// <summary>MQTT 3.1.1: protocol name "MQTT", level 4.</summary>
    V311,
}

/// <summary>Everything a hand-built CONNECT can carry, including deliberately wrong values.</summary>
public sealed record ConnectOptions
{
    public string ClientId { get; init; } = "";

    public MqttVersion Version { get; init; } = MqttVersion.V311;

    public bool CleanSession { get; init; } = true;

    public ushort KeepAlive { get; init; } = 60;

    public string? ProtocolName { get; init; }

    public byte? ProtocolLevel { get; init; }

    public string? WillTopic { get; init; }

    public byte[] WillPayload { get; init; } = [];

    public int WillQoS { get; init; }

    public bool WillRetain { get; init; }

    public string? UserName { get; init; }

    public string? Password { get; init; }

    /// <summary>Bits OR-ed into the connect flags after they are computed (e.g. the reserved bit 0x01).</summary>
    public byte ExtraFlags { get; init; }

    /// <summary>Replaces the computed connect flags entirely.</summary>
    public byte? FlagsOverride { get; init; }
}

/// <summary>
/// Hand-built MQTT 3.1 / 3.1.1 packets as bytes. Nothing here validates: the point is to be able to
/// send exactly what a test wants, including what the spec forbids.
/// </summary>
public static class MqttPackets
{
    public static byte[] Connect(ConnectOptions options)
    {
        var variable = new List<byte>();
        var protocolName = options.ProtocolName ?? (options.Version == MqttVersion.V31 ? "MQIsdp" : "MQTT");
        var protocolLevel = options.ProtocolLevel ?? (byte)(options.Version == MqttVersion.V31 ? 3 : 4);
        AppendString(variable, protocolName);
        variable.Add(protocolLevel);

        // MQTT 3.1.1 §3.1.2.3 connect flags.
        var flags = 0;
        if (options.CleanSession)
        {
            flags |= 0x02;
        }

        if (options.WillTopic is not null)
        {
            flags |= 0x04 | (options.WillQoS << 3) | (options.WillRetain ? 0x20 : 0);
        }

        if (options.Password is not null)
        {
            flags |= 0x40;
        }

        if (options.UserName is not null)
        {
            flags |= 0x80;
        }

        flags |= options.ExtraFlags;
        variable.Add(options.FlagsOverride ?? (byte)flags);
        variable.Add((byte)(options.KeepAlive >> 8));
        variable.Add((byte)options.KeepAlive);

        // §3.1.3: client id, will topic, will message, user name, password — in that order.
        AppendString(variable, options.ClientId);
        if (options.WillTopic is not null)
        {
            AppendString(variable, options.WillTopic);
            AppendBinary(variable, options.WillPayload);
        }

        if (options.UserName is not null)
        {
            AppendString(variable, options.UserName);
        }

        if (options.Password is not null)
        {
            AppendString(variable, options.Password);
        }

        return Frame(0x10, [.. variable]);
    }

    public static byte[] Publish(string topic, byte[] payload, int qos = 0, ushort packetId = 0, bool retain = false, bool dup = false)
        => PublishRawTopic(Encoding.UTF8.GetBytes(topic), payload, qos, packetId, retain, dup);

    public static byte[] Publish(string topic, string payload, int qos = 0, ushort packetId = 0, bool retain = false, bool dup = false)
        => Publish(topic, Encoding.UTF8.GetBytes(payload), qos, packetId, retain, dup);

    /// <summary>A PUBLISH whose topic bytes are used verbatim (for ill-formed UTF-8 tests).</summary>
    public static byte[] PublishRawTopic(byte[] topic, byte[] payload, int qos = 0, ushort packetId = 0, bool retain = false, bool dup = false)
    {
        var body = new List<byte>();
        AppendBinary(body, topic);
        if (qos > 0)
        {
            body.Add((byte)(packetId >> 8));
            body.Add((byte)packetId);
        }

        body.AddRange(payload);
        var header = (byte)(0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 0x01 : 0));
        return Frame(header, [.. body]);
    }

    public static byte[] Subscribe(ushort packetId, params (string Filter, int QoS)[] filters)
        => Subscribe(packetId, 0x82, filters);

    /// <summary>SUBSCRIBE with an explicit first header byte; §3.8.1 requires 0x82.</summary>
    public static byte[] Subscribe(ushort packetId, byte header, params (string Filter, int QoS)[] filters)
    {
        var body = new List<byte> { (byte)(packetId >> 8), (byte)packetId };
        foreach (var (filter, qos) in filters)
        {
            AppendString(body, filter);
            body.Add((byte)qos);
        }

        return Frame(header, [.. body]);
    }

    public static byte[] Unsubscribe(ushort packetId, params string[] filters)
        => Unsubscribe(packetId, 0xA2, filters);

    /// <summary>UNSUBSCRIBE with an explicit first header byte; §3.10.1 requires 0xA2.</summary>
    public static byte[] Unsubscribe(ushort packetId, byte header, params string[] filters)
    {
        var body = new List<byte> { (byte)(packetId >> 8), (byte)packetId };
        foreach (var filter in filters)
        {
            AppendString(body, filter);
        }

        return Frame(header, [.. body]);
    }

    public static byte[] PubAck(ushort packetId) => Ack(0x40, packetId);

    public static byte[] PubRec(ushort packetId) => Ack(0x50, packetId);

    /// <summary>PUBREL; §3.6.1 requires the header byte 0x62.</summary>
    public static byte[] PubRel(ushort packetId, byte header = 0x62) => Ack(header, packetId);

    public static byte[] PubComp(ushort packetId) => Ack(0x70, packetId);

    public static byte[] PingReq() => [0xC0, 0x00];

    public static byte[] Disconnect() => [0xE0, 0x00];

    /// <summary>A fixed header byte, the §2.2.3 remaining length, then the body.</summary>
    public static byte[] Frame(byte header, byte[] body)
    {
        var packet = new List<byte>(body.Length + 5) { header };
        packet.AddRange(EncodeRemainingLength(body.Length));
        packet.AddRange(body);
        return [.. packet];
    }

    /// <summary>MQTT 3.1.1 §2.2.3: seven bits per byte, continuation bit 0x80, at most four bytes.</summary>
    public static byte[] EncodeRemainingLength(int length)
    {
        var bytes = new List<byte>(4);
        do
        {
            var digit = (byte)(length % 128);
            length /= 128;
            if (length > 0)
            {
                digit |= 0x80;
            }

            bytes.Add(digit);
        }
        while (length > 0);
        return [.. bytes];
    }

    private static byte[] Ack(byte header, ushort packetId) => [header, 0x02, (byte)(packetId >> 8), (byte)packetId];

    private static void AppendString(List<byte> target, string value) => AppendBinary(target, Encoding.UTF8.GetBytes(value));

    private static void AppendBinary(List<byte> target, byte[] value)
    {
        target.Add((byte)(value.Length >> 8));
        target.Add((byte)value.Length);
        target.AddRange(value);
    }
}
