using Cicada.Core;
using Cicada.Core.Topics;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Mqtt.Protocol;

/// <summary>Stateless decoders for the MQTT 3.1 / 3.1.1 / 5.0 packets a server receives.</summary>
public static class MqttDecoder
{
    /// <summary>
    /// Fixed-header flags (MQTT-2.2.2-1/2): PUBREL, SUBSCRIBE and UNSUBSCRIBE carry 0010; all other
    /// packets but PUBLISH carry 0000.
    /// </summary>
    public static void CheckFlags(MqttFrame frame)
    {
        var expected = frame.Type switch
        {
            MqttPacketType.Publish => frame.Flags,
            MqttPacketType.PubRel or MqttPacketType.Subscribe or MqttPacketType.Unsubscribe => 0b0010,
            _ => 0,
        };
        if (frame.Flags != expected)
        {
            ThrowHelper.Protocol(frame.Type switch
            {
                MqttPacketType.Subscribe => "MQTT-3.8.1-1",
                MqttPacketType.Unsubscribe => "MQTT-3.10.1-1",
                MqttPacketType.PubRel => "MQTT-3.6.1-1",
                _ => "MQTT-2.2.2-2",
            }, $"Invalid fixed header flags {frame.Flags:X1} for {frame.Type}");
        }
    }

    public static ConnectPacket DecodeConnect(ReadOnlySpan<byte> body)
    {
        var reader = new MqttReader(body);
        var name = reader.ReadString();
        var level = reader.ReadByte();
        if (name is not ("MQTT" or "MQIsdp"))
        {
            // MQTT-3.1.2-1: not MQTT at all. 3.1.1: close without CONNACK; MQTT 5: the server may
            // reveal itself with CONNACK 0x84 Unsupported Protocol Version, then close.
            ThrowHelper.ProtocolError("MQTT-3.1.2-1", $"Unknown protocol name '{name}'", 0x84);
        }

        var flags = reader.ReadByte();
        var keepAlive = reader.ReadUInt16();
        if (name == "MQTT" ? level is not (MqttProtocolLevel.V311 or MqttProtocolLevel.V5) : level != MqttProtocolLevel.V31)
        {
            // MQTT-3.1.2-2: answered with CONNACK 0x01 by the caller; the rest is not parsed.
            return new ConnectPacket { ProtocolName = name, ProtocolLevel = level, ClientId = string.Empty };
        }

        if ((flags & 0x01) != 0)
        {
            ThrowHelper.Protocol("MQTT-3.1.2-3", "Reserved CONNECT flag is set");
        }

        var cleanSession = (flags & 0x02) != 0;
        var willFlag = (flags & 0x04) != 0;
        var willQos = (flags >> 3) & 0x03;
        var willRetain = (flags & 0x20) != 0;
        var passwordFlag = (flags & 0x40) != 0;
        var usernameFlag = (flags & 0x80) != 0;

        if (!willFlag && (willQos != 0 || willRetain))
        {
            ThrowHelper.Protocol("MQTT-3.1.2-11", "Will QoS/Retain set without the Will flag");
        }

        if (willQos == 3)
        {
            ThrowHelper.Protocol("MQTT-3.1.2-14", "Will QoS 3");
        }

        if (!usernameFlag && passwordFlag && level == MqttProtocolLevel.V311)
        {
            ThrowHelper.Protocol("MQTT-3.1.2-22", "Password flag without the User Name flag");
        }

        var v5 = level == MqttProtocolLevel.V5;
        var properties = v5 ? PropertyCodec.Read(ref reader, PropertyContext.Connect) : null;
        var clientId = reader.ReadString();
        string? willTopic = null;
        byte[]? willPayload = null;
        MqttProperties? willProperties = null;
        if (willFlag)
        {
            willProperties = v5 ? PropertyCodec.Read(ref reader, PropertyContext.Will) : null;
            willTopic = reader.ReadString();
            if (!TopicValidator.IsValidTopicName(willTopic))
            {
                ThrowHelper.Protocol("MQTT-3.1.3-10", "Will topic is not a valid topic name");
            }

            willPayload = reader.ReadBinary().ToArray();
        }

        var username = usernameFlag ? reader.ReadString() : null;

        // MQTT 3.1 clients may omit a password even with the flag set; 3.1.1 may not (§3.1.3.5).
        byte[]? password = passwordFlag && !(level == MqttProtocolLevel.V31 && reader.End)
            ? reader.ReadBinary().ToArray()
            : null;

        if (!reader.End)
        {
            ThrowHelper.Protocol("MQTT-3.1.3-1", "Unexpected bytes after the CONNECT payload");
        }

        return new ConnectPacket
        {
            ProtocolName = name,
            ProtocolLevel = level,
            CleanSession = cleanSession,
            KeepAliveSeconds = keepAlive,
            ClientId = clientId,
            WillTopic = willTopic,
            WillPayload = willPayload,
            WillQos = (QoS)willQos,
            WillRetain = willRetain,
            Username = username,
            Password = password,
            Properties = properties,
            WillProperties = willProperties,
        };
    }

    public static PublishPacket DecodePublish(int flags, ReadOnlySpan<byte> body) => DecodePublish(flags, body, v5: false);

    /// <summary>
    /// PUBLISH (§3.3). In MQTT 5 the topic may be empty when a Topic Alias stands for it
    /// (§3.3.2.3.4); the connection resolves that.
    /// </summary>
    public static PublishPacket DecodePublish(int flags, ReadOnlySpan<byte> body, bool v5)
    {
        var qos = (flags >> 1) & 0x03;
        if (qos == 3)
        {
            ThrowHelper.Protocol("MQTT-3.3.1-4", "PUBLISH with QoS 3");
        }

        var dup = (flags & 0x08) != 0;
        if (dup && qos == 0)
        {
            ThrowHelper.Protocol("MQTT-3.3.1-2", "DUP set on a QoS 0 PUBLISH");
        }

        var reader = new MqttReader(body);
        var topic = reader.ReadString();
        if (!(v5 && topic.Length == 0) && !TopicValidator.IsValidTopicName(topic))
        {
            ThrowHelper.Protocol("MQTT-3.3.2-2", $"Invalid topic name '{topic}'");
        }

        ushort packetId = 0;
        if (qos > 0)
        {
            packetId = reader.ReadUInt16();
            if (packetId == 0)
            {
                ThrowHelper.Protocol("MQTT-2.3.1-1", "Packet identifier 0");
            }
        }

        var properties = v5 ? PropertyCodec.Read(ref reader, PropertyContext.Publish) : null;
        if (properties?.SubscriptionIdentifiers is not null)
        {
            // MQTT-3.3.4-6: a PUBLISH from a client must not carry a Subscription Identifier.
            ThrowHelper.ProtocolError("MQTT-3.3.4-6", "Subscription Identifier in a client's PUBLISH");
        }

        return new PublishPacket(topic, reader.ReadRest().ToArray(), (QoS)qos, (flags & 0x01) != 0, dup, packetId, properties);
    }

    /// <summary>MQTT 5 acknowledgement (§3.4.2): packet id, then an optional reason code and properties.</summary>
    public static AckPacket DecodeAckV5(ReadOnlySpan<byte> body)
    {
        var reader = new MqttReader(body);
        var id = reader.ReadUInt16();
        byte reason = 0;
        if (!reader.End)
        {
            reason = reader.ReadByte();
            if (!reader.End)
            {
                PropertyCodec.Read(ref reader, PropertyContext.PubAck);
            }
        }

        if (!reader.End)
        {
            ThrowHelper.Protocol("MQTT-2.2.3", "Bytes after the acknowledgement's properties");
        }

        return new AckPacket(id, reason);
    }

    /// <summary>MQTT 5 DISCONNECT (§3.14.2) or AUTH (§3.15.2): optional reason code and properties.</summary>
    public static (byte Reason, MqttProperties? Properties) DecodeReasonAndProperties(ReadOnlySpan<byte> body, PropertyContext context)
    {
        var reader = new MqttReader(body);
        if (reader.End)
        {
            return (0, null);
        }

        var reason = reader.ReadByte();
        var properties = reader.End ? null : PropertyCodec.Read(ref reader, context);
        if (!reader.End)
        {
            ThrowHelper.Protocol("MQTT-2.2.3", "Bytes after the properties");
        }

        return (reason, properties);
    }

    /// <summary>PUBACK, PUBREC, PUBREL, PUBCOMP: exactly a packet identifier (§3.4-§3.7).</summary>
    public static ushort DecodePacketId(ReadOnlySpan<byte> body)
    {
        var reader = new MqttReader(body);
        var id = reader.ReadUInt16();
        if (!reader.End)
        {
            ThrowHelper.Protocol("MQTT-2.2.3", "Acknowledgement longer than two bytes");
        }

        return id;
    }

    public static ushort DecodeSubscribe(ReadOnlySpan<byte> body, List<TopicRequest> filters) =>
        DecodeSubscribe(body, filters, v5: false, out _);

    /// <summary>SUBSCRIBE (§3.8): in MQTT 5 with properties (a Subscription Identifier) and subscription options.</summary>
    public static ushort DecodeSubscribe(ReadOnlySpan<byte> body, List<TopicRequest> filters, bool v5, out int subscriptionId)
    {
        var reader = new MqttReader(body);
        var packetId = reader.ReadUInt16();
        if (packetId == 0)
        {
            ThrowHelper.Protocol("MQTT-2.3.1-1", "Packet identifier 0");
        }

        subscriptionId = 0;
        if (v5 && PropertyCodec.Read(ref reader, PropertyContext.Subscribe) is { SubscriptionIdentifiers: [var id] })
        {
            subscriptionId = id;
        }

        while (!reader.End)
        {
            var filter = reader.ReadString();
            var options = reader.ReadByte();
            if (!v5)
            {
                if ((options & 0xFC) != 0 || (options & 0x03) == 3)
                {
                    ThrowHelper.Protocol("MQTT-3.8.3-4", $"Invalid requested QoS byte {options:X2}");
                }

                filters.Add(new TopicRequest(filter, (QoS)(options & 0x03)));
                continue;
            }

            // MQTT 5 §3.8.3.1: bits 6-7 reserved (MQTT-3.8.3-5: malformed); Maximum QoS 3 and Retain Handling 3 are protocol errors.
            if ((options & 0xC0) != 0)
            {
                ThrowHelper.Protocol("MQTT-3.8.3-5", $"Reserved subscription option bits set in {options:X2}");
            }

            if ((options & 0x03) == 3)
            {
                ThrowHelper.ProtocolError("MQTT 5 §3.8.3.1", "Maximum QoS 3");
            }

            var retainHandling = (byte)((options >> 4) & 0x03);
            if (retainHandling == 3)
            {
                ThrowHelper.ProtocolError("MQTT-3.8.3-5", "Retain Handling 3");
            }

            filters.Add(new TopicRequest(filter, (QoS)(options & 0x03), (options & 0x04) != 0, (options & 0x08) != 0, retainHandling));
        }

        if (filters.Count == 0)
        {
            // MQTT 5 §3.8.3 (MQTT-3.8.3-2): a SUBSCRIBE with no payload is a Protocol Error.
            ThrowHelper.ProtocolError(v5 ? "MQTT-3.8.3-2" : "MQTT-3.8.3-3", "SUBSCRIBE without a topic filter", v5 ? (byte)0x82 : (byte)0x81);
        }

        return packetId;
    }

    public static ushort DecodeUnsubscribe(ReadOnlySpan<byte> body, List<string> filters) =>
        DecodeUnsubscribe(body, filters, v5: false);

    public static ushort DecodeUnsubscribe(ReadOnlySpan<byte> body, List<string> filters, bool v5)
    {
        var reader = new MqttReader(body);
        var packetId = reader.ReadUInt16();
        if (packetId == 0)
        {
            ThrowHelper.Protocol("MQTT-2.3.1-1", "Packet identifier 0");
        }

        if (v5)
        {
            PropertyCodec.Read(ref reader, PropertyContext.Unsubscribe);
        }

        while (!reader.End)
        {
            // MQTT-3.10.3-1: each filter is a UTF-8 string (MQTT-1.5.3-1/2 apply: ill-formed or U+0000 closes).
            filters.Add(reader.ReadString());
        }

        if (filters.Count == 0)
        {
            // MQTT 5 §3.10.3: an UNSUBSCRIBE with no payload is a Protocol Error.
            ThrowHelper.ProtocolError("MQTT-3.10.3-2", "UNSUBSCRIBE without a topic filter", v5 ? (byte)0x82 : (byte)0x81);
        }

        return packetId;
    }
}
