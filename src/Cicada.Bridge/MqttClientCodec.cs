using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Bridge;

/// <summary>CONNACK as the bridge reads it: MQTT 3.1.1 return code or MQTT 5 reason code (§3.2.2.2).</summary>
internal readonly record struct ConnAck(bool SessionPresent, byte Code, MqttProperties? Properties);

/// <summary>SUBACK (§3.9): one return code per filter, in order.</summary>
internal readonly record struct SubAck(ushort PacketId, byte[] Codes);

/// <summary>
/// The packets only a client sends (CONNECT, SUBSCRIBE, PINGREQ, DISCONNECT) and reads (CONNACK,
/// SUBACK). Everything both sides share — framing, PUBLISH, acknowledgements, properties — is the
/// server's codec in <c>Cicada.Mqtt.Protocol</c>, reused as it is.
/// </summary>
internal static class MqttClientCodec
{
    /// <summary>CONNECT (§3.1): protocol name "MQTT", level 4 or 5, no will.</summary>
    public static void WriteConnect(IBufferWriter<byte> writer, BridgeSettings settings, uint maxPacketSize)
    {
        var clientId = Encoding.UTF8.GetBytes(settings.ClientId);
        var username = settings.Username is { } u ? Encoding.UTF8.GetBytes(u) : null;
        // MQTT 3.1.1 §3.1.2.9 (MQTT-3.1.2-22): no password without a username; MQTT 5 allows it.
        var password = settings.Password is { } p && (username is not null || settings.V5) ? Encoding.UTF8.GetBytes(p) : null;

        PropertyCodec.Builder? props = null;
        if (settings.V5)
        {
            props = new PropertyCodec.Builder();
            if (!settings.CleanSession)
            {
                // MQTT 5 §3.1.2.11.2: 0xFFFFFFFF = the session never expires, as a 3.1.1 persistent session.
                props.UInt32(PropertyId.SessionExpiryInterval, uint.MaxValue);
            }

            // §3.1.2.11.4: the remote must not send us a packet larger than we can take (MQTT-3.1.2-24).
            props.UInt32(PropertyId.MaximumPacketSize, maxPacketSize);
        }

        var remaining = 6 + 1 + 1 + 2 + (props?.EncodedSize ?? 0) + 2 + clientId.Length
            + (username is null ? 0 : 2 + username.Length) + (password is null ? 0 : 2 + password.Length);
        var size = 1 + MqttEncoder.RemainingLengthSize(remaining) + remaining;
        var span = writer.GetSpan(size);
        span[0] = (byte)MqttPacketType.Connect << 4;
        var i = 1 + MqttEncoder.WriteRemainingLength(span[1..], remaining);
        i += WriteBinary(span[i..], "MQTT"u8);
        span[i++] = settings.V5 ? MqttProtocolLevel.V5 : MqttProtocolLevel.V311;
        span[i++] = (byte)((username is null ? 0 : 0x80) | (password is null ? 0 : 0x40) | (settings.CleanSession ? 0x02 : 0));
        BinaryPrimitives.WriteUInt16BigEndian(span[i..], settings.KeepAliveSeconds);
        i += 2;
        if (props is not null)
        {
            i += props.WriteTo(span[i..]);
        }

        i += WriteBinary(span[i..], clientId);
        if (username is not null)
        {
            i += WriteBinary(span[i..], username);
        }

        if (password is not null)
        {
            i += WriteBinary(span[i..], password);
        }

        writer.Advance(i);
    }

    /// <summary>
    /// SUBSCRIBE (§3.8, flags 0010 by MQTT-3.8.1-1). MQTT 5 options (§3.8.3.1): No Local, so the
    /// remote never sends back what the bridge published (MQTT-3.8.3-3); Retain As Published, so
    /// the retain flag crosses the bridge; Retain Handling 1, retained messages only for a new
    /// subscription, not again at every reconnect.
    /// </summary>
    public static void WriteSubscribe(IBufferWriter<byte> writer, ushort packetId, IReadOnlyList<(string Filter, Core.QoS Qos)> filters, bool v5)
    {
        var encoded = filters.Select(f => Encoding.UTF8.GetBytes(f.Filter)).ToArray();
        var remaining = 2 + (v5 ? 1 : 0) + encoded.Sum(e => 2 + e.Length + 1);
        var size = 1 + MqttEncoder.RemainingLengthSize(remaining) + remaining;
        var span = writer.GetSpan(size);
        span[0] = (byte)MqttPacketType.Subscribe << 4 | 0b0010;
        var i = 1 + MqttEncoder.WriteRemainingLength(span[1..], remaining);
        BinaryPrimitives.WriteUInt16BigEndian(span[i..], packetId);
        i += 2;
        if (v5)
        {
            span[i++] = 0; // no properties
        }

        for (var n = 0; n < encoded.Length; n++)
        {
            i += WriteBinary(span[i..], encoded[n]);
            span[i++] = (byte)((byte)filters[n].Qos | (v5 ? 0x04 | 0x08 | 0x10 : 0));
        }

        writer.Advance(i);
    }

    public static void WritePingReq(IBufferWriter<byte> writer)
    {
        var span = writer.GetSpan(2);
        span[0] = (byte)MqttPacketType.PingReq << 4;
        span[1] = 0;
        writer.Advance(2);
    }

    /// <summary>DISCONNECT (§3.14): in MQTT 5 a remaining length of 0 means reason 0x00 Normal disconnection.</summary>
    public static void WriteDisconnect(IBufferWriter<byte> writer)
    {
        var span = writer.GetSpan(2);
        span[0] = (byte)MqttPacketType.Disconnect << 4;
        span[1] = 0;
        writer.Advance(2);
    }

    /// <summary>CONNACK (§3.2.2): MQTT 3.1.1 is exactly two bytes (MQTT-3.2.2-1 reserved bits 0); MQTT 5 adds properties.</summary>
    public static ConnAck DecodeConnAck(ReadOnlySpan<byte> body, bool v5)
    {
        var reader = new MqttReader(body);
        var flags = reader.ReadByte();
        if ((flags & 0xFE) != 0)
        {
            throw new MqttProtocolException("MQTT-3.2.2-1", "CONNACK reserved flags set");
        }

        var code = reader.ReadByte();
        var properties = v5 && !reader.End ? PropertyCodec.Read(ref reader, PropertyContext.ConnAck) : null;
        if (!reader.End)
        {
            throw new MqttProtocolException("MQTT-2.2.3", "Bytes after the CONNACK");
        }

        return new ConnAck((flags & 1) != 0, code, properties);
    }

    /// <summary>SUBACK (§3.9.2): packet id, MQTT 5 properties, then one code per filter.</summary>
    public static SubAck DecodeSubAck(ReadOnlySpan<byte> body, bool v5)
    {
        var reader = new MqttReader(body);
        var id = reader.ReadUInt16();
        if (v5)
        {
            PropertyCodec.Read(ref reader, PropertyContext.SubAck);
        }

        return new SubAck(id, reader.ReadRest().ToArray());
    }

    private static int WriteBinary(Span<byte> span, ReadOnlySpan<byte> value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)value.Length);
        value.CopyTo(span[2..]);
        return 2 + value.Length;
    }
}
