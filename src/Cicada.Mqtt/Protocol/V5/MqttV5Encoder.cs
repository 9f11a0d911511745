using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Cicada.Core;

namespace Cicada.Mqtt.Protocol.V5;

/// <summary>Encoders for the MQTT 5 packets a server sends (§3).</summary>
internal static class MqttV5Encoder
{
    /// <summary>Writes fixed header + variable header prefix + property block; returns the span after it for the rest.</summary>
    private static Span<byte> Begin(IBufferWriter<byte> writer, byte header, int headerBytes, PropertyCodec.Builder? props, int tail, out int total)
    {
        var propsSize = props?.EncodedSize ?? 1;
        var remaining = headerBytes + propsSize + tail;
        total = 1 + MqttEncoder.RemainingLengthSize(remaining) + remaining;
        var span = writer.GetSpan(total);
        span[0] = header;
        var n = 1 + MqttEncoder.WriteRemainingLength(span[1..], remaining);
        return span[n..];
    }

    private static int WriteProps(Span<byte> span, PropertyCodec.Builder? props)
    {
        if (props is null)
        {
            span[0] = 0;
            return 1;
        }

        return props.WriteTo(span);
    }

    /// <summary>CONNACK (§3.2): acknowledge flags, reason code, properties.</summary>
    public static void WriteConnAck(IBufferWriter<byte> writer, bool sessionPresent, ReasonCode reason, PropertyCodec.Builder? props)
    {
        var span = Begin(writer, (byte)MqttPacketType.ConnAck << 4, 2, props, 0, out var total);
        span[0] = sessionPresent ? (byte)1 : (byte)0;
        span[1] = (byte)reason;
        WriteProps(span[2..], props);
        writer.Advance(total);
    }

    /// <summary>
    /// PUBACK, PUBREC, PUBREL, PUBCOMP (§3.4-§3.7): the short form (packet id only) when the reason
    /// is Success and there are no properties (§3.4.2.1).
    /// </summary>
    public static void WriteAck(IBufferWriter<byte> writer, MqttPacketType type, ushort packetId, ReasonCode reason,
        PropertyCodec.Builder? props = null)
    {
        var header = (byte)((byte)type << 4 | (type == MqttPacketType.PubRel ? 0b0010 : 0));
        if (reason == ReasonCode.Success && props is null)
        {
            MqttEncoder.WriteAck(writer, type, packetId);
            return;
        }

        var span = Begin(writer, header, 3, props, 0, out var total);
        BinaryPrimitives.WriteUInt16BigEndian(span, packetId);
        span[2] = (byte)reason;
        WriteProps(span[3..], props);
        writer.Advance(total);
    }

    /// <summary>SUBACK / UNSUBACK (§3.9, §3.11): packet id, properties, one reason code per filter.</summary>
    public static void WriteSubAck(IBufferWriter<byte> writer, MqttPacketType type, ushort packetId, ReadOnlySpan<byte> reasons,
        PropertyCodec.Builder? props = null)
    {
        var span = Begin(writer, (byte)((byte)type << 4), 2, props, reasons.Length, out var total);
        BinaryPrimitives.WriteUInt16BigEndian(span, packetId);
        var n = 2 + WriteProps(span[2..], props);
        reasons.CopyTo(span[n..]);
        writer.Advance(total);
    }

    /// <summary>DISCONNECT (§3.14) from the server, with its reason.</summary>
    public static void WriteDisconnect(IBufferWriter<byte> writer, ReasonCode reason, PropertyCodec.Builder? props = null)
    {
        var span = Begin(writer, (byte)MqttPacketType.Disconnect << 4, 1, props, 0, out var total);
        span[0] = (byte)reason;
        WriteProps(span[1..], props);
        writer.Advance(total);
    }

    /// <summary>
    /// AUTH (§3.15) from the server: reason code and properties (the Authentication Method, always
    /// present, MQTT-4.12.0-5, and Data). The two-byte form with Remaining Length 0 is used only for
    /// 0x00 Success without properties (§3.15.2.1).
    /// </summary>
    public static void WriteAuth(IBufferWriter<byte> writer, ReasonCode reason, PropertyCodec.Builder? props)
    {
        if (reason == ReasonCode.Success && props is null)
        {
            var empty = writer.GetSpan(2);
            empty[0] = (byte)MqttPacketType.Auth << 4;
            empty[1] = 0;
            writer.Advance(2);
            return;
        }

        var span = Begin(writer, (byte)MqttPacketType.Auth << 4, 1, props, 0, out var total);
        span[0] = (byte)reason;
        WriteProps(span[1..], props);
        writer.Advance(total);
    }

    /// <summary>
    /// Encodes a PUBLISH (§3.3) with packet id 0 for patching; the properties forwarded untouched
    /// (MQTT-3.3.2-? passthrough: Payload Format Indicator, Content Type, Response Topic,
    /// Correlation Data, User Properties), the remaining Message Expiry Interval
    /// (MQTT-3.3.2-6), subscription identifiers (MQTT-3.3.4-3) and a topic alias.
    /// </summary>
    public static EncodedPublish EncodePublish(Message message, QoS qos, bool retain, bool dup, PropertyCodec.Builder props,
        uint? remainingExpiry, int subscriptionId, int[]? moreSubscriptionIds, ushort topicAlias, bool omitTopic)
    {
        props.Reset();
        var mp = message.Properties;
        if (mp?.PayloadIsUtf8 is { } utf8)
        {
            props.Byte(PropertyId.PayloadFormatIndicator, utf8 ? (byte)1 : (byte)0);
        }

        if (remainingExpiry is { } expiry)
        {
            props.UInt32(PropertyId.MessageExpiryInterval, expiry);
        }

        if (mp?.ContentType is { } contentType)
        {
            props.String(PropertyId.ContentType, contentType);
        }

        if (mp?.ResponseTopic is { } responseTopic)
        {
            props.String(PropertyId.ResponseTopic, responseTopic);
        }

        if (mp is { CorrelationData.IsEmpty: false })
        {
            props.Binary(PropertyId.CorrelationData, mp.CorrelationData.Span);
        }

        if (mp?.UserProperties is { } users)
        {
            foreach (var (key, value) in users)
            {
                props.Pair(key, value);
            }
        }

        if (subscriptionId != 0)
        {
            props.VarInt(PropertyId.SubscriptionIdentifier, subscriptionId);
        }

        if (moreSubscriptionIds is not null)
        {
            foreach (var id in moreSubscriptionIds)
            {
                props.VarInt(PropertyId.SubscriptionIdentifier, id);
            }
        }

        if (topicAlias != 0)
        {
            props.UInt16(PropertyId.TopicAlias, topicAlias);
        }

        var topicLength = omitTopic ? 0 : Encoding.UTF8.GetByteCount(message.Topic);
        var remaining = 2 + topicLength + (qos == QoS.AtMostOnce ? 0 : 2) + props.EncodedSize + message.Payload.Length;
        var bytes = new byte[1 + MqttEncoder.RemainingLengthSize(remaining) + remaining];
        bytes[0] = (byte)((byte)MqttPacketType.Publish << 4 | (dup ? 0x08 : 0) | (byte)qos << 1 | (retain ? 1 : 0));
        var i = 1 + MqttEncoder.WriteRemainingLength(bytes.AsSpan(1), remaining);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(i), (ushort)topicLength);
        i += 2;
        if (!omitTopic)
        {
            i += Encoding.UTF8.GetBytes(message.Topic, bytes.AsSpan(i));
        }

        var idOffset = -1;
        if (qos != QoS.AtMostOnce)
        {
            idOffset = i;
            i += 2;
        }

        i += props.WriteTo(bytes.AsSpan(i));
        message.Payload.Span.CopyTo(bytes.AsSpan(i));
        return new EncodedPublish(bytes, idOffset);
    }
}
