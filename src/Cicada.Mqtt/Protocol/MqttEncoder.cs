using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Cicada.Core;

namespace Cicada.Mqtt.Protocol;

/// <summary>A PUBLISH encoded once and shared by subscribers; only the packet id differs (patched at <see cref="IdOffset"/>).</summary>
public sealed class EncodedPublish(byte[] bytes, int idOffset)
{
    public byte[] Bytes { get; } = bytes;

    /// <summary>Offset of the two packet-id bytes, or -1 for QoS 0.</summary>
    public int IdOffset { get; } = idOffset;
}

/// <summary>Encoders for the MQTT 3.1 / 3.1.1 packets a server sends.</summary>
public static class MqttEncoder
{
    public static int RemainingLengthSize(int length) => length switch
    {
        < 128 => 1,
        < 16_384 => 2,
        < 2_097_152 => 3,
        _ => 4,
    };

    public static int WriteRemainingLength(Span<byte> destination, int length)
    {
        var i = 0;
        do
        {
            var b = (byte)(length % 128);
            length /= 128;
            if (length > 0)
            {
                b |= 0x80;
            }

            destination[i++] = b;
        }
        while (length > 0);

        return i;
    }

    /// <summary>CONNACK (§3.2): session present (level 4 only, MQTT-3.2.2-1..4) and return code.</summary>
    public static void WriteConnAck(IBufferWriter<byte> writer, bool sessionPresent, ConnectReturnCode code)
    {
        var span = writer.GetSpan(4);
        span[0] = (byte)MqttPacketType.ConnAck << 4;
        span[1] = 2;
        span[2] = sessionPresent ? (byte)1 : (byte)0;
        span[3] = (byte)code;
        writer.Advance(4);
    }

    /// <summary>PUBACK, PUBREC, PUBREL (flags 0010, MQTT-3.6.1-1), PUBCOMP, UNSUBACK.</summary>
    public static void WriteAck(IBufferWriter<byte> writer, MqttPacketType type, ushort packetId)
    {
        var span = writer.GetSpan(4);
        span[0] = (byte)((byte)type << 4 | (type == MqttPacketType.PubRel ? 0b0010 : 0));
        span[1] = 2;
        BinaryPrimitives.WriteUInt16BigEndian(span[2..], packetId);
        writer.Advance(4);
    }

    /// <summary>SUBACK (§3.9): one return code per filter, in order (MQTT-3.8.4-5).</summary>
    public static void WriteSubAck(IBufferWriter<byte> writer, ushort packetId, ReadOnlySpan<byte> returnCodes)
    {
        var remaining = 2 + returnCodes.Length;
        var size = 1 + RemainingLengthSize(remaining) + remaining;
        var span = writer.GetSpan(size);
        span[0] = (byte)MqttPacketType.SubAck << 4;
        var i = 1 + WriteRemainingLength(span[1..], remaining);
        BinaryPrimitives.WriteUInt16BigEndian(span[i..], packetId);
        returnCodes.CopyTo(span[(i + 2)..]);
        writer.Advance(size);
    }

    public static void WritePingResp(IBufferWriter<byte> writer)
    {
        var span = writer.GetSpan(2);
        span[0] = (byte)MqttPacketType.PingResp << 4;
        span[1] = 0;
        writer.Advance(2);
    }

    /// <summary>Encodes a PUBLISH (§3.3) with packet id 0, for sharing; see <see cref="EncodedPublish"/>.</summary>
    public static EncodedPublish EncodePublish(Message message, QoS qos, bool retain, bool dup)
    {
        var topicLength = Encoding.UTF8.GetByteCount(message.Topic);
        var remaining = 2 + topicLength + (qos == QoS.AtMostOnce ? 0 : 2) + message.Payload.Length;
        var bytes = new byte[1 + RemainingLengthSize(remaining) + remaining];
        bytes[0] = (byte)((byte)MqttPacketType.Publish << 4 | (dup ? 0x08 : 0) | (byte)qos << 1 | (retain ? 1 : 0));
        var i = 1 + WriteRemainingLength(bytes.AsSpan(1), remaining);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(i), (ushort)topicLength);
        i += 2;
        i += Encoding.UTF8.GetBytes(message.Topic, bytes.AsSpan(i));
        var idOffset = -1;
        if (qos != QoS.AtMostOnce)
        {
            idOffset = i;
            i += 2;
        }

        message.Payload.Span.CopyTo(bytes.AsSpan(i));
        return new EncodedPublish(bytes, idOffset);
    }

    /// <summary>Writes a shared encoding with this subscriber's packet id.</summary>
    public static void WritePublish(IBufferWriter<byte> writer, EncodedPublish encoded, ushort packetId)
    {
        var source = encoded.Bytes;
        var span = writer.GetSpan(source.Length);
        source.CopyTo(span);
        if (encoded.IdOffset >= 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(span[encoded.IdOffset..], packetId);
        }

        writer.Advance(source.Length);
    }
}
