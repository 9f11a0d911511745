using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Cicada.Core;
using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Mqtt.Tests;

/// <summary>What the server writes to MQTT 5 clients (§3.2, §3.3, §3.4-§3.7, §3.9, §3.11, §3.14), read back by the test-side reader.</summary>
public class V5EncoderTests
{
    private static byte[] Write(Action<ArrayBufferWriter<byte>> write)
    {
        var writer = new ArrayBufferWriter<byte>();
        write(writer);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Frames the bytes (one whole packet, nothing after it) and returns the body.</summary>
    private static (MqttFrame Frame, byte[] Body) Frame(byte[] bytes)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.Equal(FrameStatus.Done, MqttFrameReader.TryRead(ref buffer, int.MaxValue, out var frame, out var size));
        Assert.Equal(bytes.Length, size);
        Assert.True(buffer.IsEmpty);
        return (frame, frame.Body.ToArray());
    }

    private static Message Message(string topic = "a/b", string payload = "hi", MessageProperties? properties = null) =>
        new(topic, Encoding.UTF8.GetBytes(payload), QoS.AtLeastOnce, retain: false, properties);

    // ---- CONNACK (§3.2) ----

    [Fact]
    public void Section_3_2_2_CONNACK_without_properties_has_an_empty_block()
    {
        Assert.Equal([0x20, 0x03, 0x00, 0x00, 0x00], Write(w => MqttV5Encoder.WriteConnAck(w, false, ReasonCode.Success, null)));
        Assert.Equal([0x20, 0x03, 0x01, 0x00, 0x00], Write(w => MqttV5Encoder.WriteConnAck(w, true, ReasonCode.Success, null)));
        Assert.Equal([0x20, 0x03, 0x00, 0x8C, 0x00], Write(w => MqttV5Encoder.WriteConnAck(w, false, ReasonCode.BadAuthenticationMethod, null)));
    }

    [Fact]
    public void Section_3_2_2_3_CONNACK_properties_round_trip()
    {
        var props = new PropertyCodec.Builder()
            .UInt16(PropertyId.ReceiveMaximum, 100)
            .UInt32(PropertyId.MaximumPacketSize, 1_048_576)
            .UInt16(PropertyId.TopicAliasMaximum, 64)
            .Byte(PropertyId.RetainAvailable, 1)
            .Byte(PropertyId.WildcardSubscriptionAvailable, 1)
            .Byte(PropertyId.SubscriptionIdentifierAvailable, 1)
            .Byte(PropertyId.SharedSubscriptionAvailable, 1)
            .String(PropertyId.AssignedClientIdentifier, "cicada-123")
            .UInt16(PropertyId.ServerKeepAlive, 30);

        var (frame, body) = Frame(Write(w => MqttV5Encoder.WriteConnAck(w, true, ReasonCode.Success, props)));

        Assert.Equal(MqttPacketType.ConnAck, frame.Type);
        Assert.Equal(0, frame.Flags);
        Assert.Equal([0x01, 0x00], body[..2]);
        var position = 2;
        var read = V5Read.Properties(body, ref position);
        Assert.Equal(body.Length, position);
        Assert.Equal(
            [
                new(0x21, (ushort)100), new(0x27, 1_048_576u), new(0x22, (ushort)64), new(0x25, (byte)1), new(0x28, (byte)1),
                new(0x29, (byte)1), new(0x2A, (byte)1), new(0x12, "cicada-123"), new(0x13, (ushort)30),
            ],
            read);
    }

    // ---- PUBACK, PUBREC, PUBREL, PUBCOMP (§3.4-§3.7) ----

    [Theory]
    [InlineData(MqttPacketType.PubAck, 0x40)]
    [InlineData(MqttPacketType.PubRec, 0x50)]
    [InlineData(MqttPacketType.PubRel, 0x62)]
    [InlineData(MqttPacketType.PubComp, 0x70)]
    public void Section_3_4_2_1_a_successful_acknowledgement_without_properties_is_the_short_form(MqttPacketType type, byte header) =>
        Assert.Equal([header, 0x02, 0x12, 0x34], Write(w => MqttV5Encoder.WriteAck(w, type, 0x1234, ReasonCode.Success)));

    [Theory]
    [InlineData(MqttPacketType.PubAck, 0x40, ReasonCode.PayloadFormatInvalid)]
    [InlineData(MqttPacketType.PubAck, 0x40, ReasonCode.NoMatchingSubscribers)]
    [InlineData(MqttPacketType.PubRec, 0x50, ReasonCode.QuotaExceeded)]
    [InlineData(MqttPacketType.PubRel, 0x62, ReasonCode.PacketIdentifierNotFound)]
    [InlineData(MqttPacketType.PubComp, 0x70, ReasonCode.PacketIdentifierNotFound)]
    public void Section_3_4_2_1_an_acknowledgement_with_a_reason_carries_it_after_the_packet_id(MqttPacketType type, byte header, ReasonCode reason)
    {
        var bytes = Write(w => MqttV5Encoder.WriteAck(w, type, 7, reason));

        var (frame, body) = Frame(bytes);
        Assert.Equal(header, bytes[0]);
        MqttDecoder.CheckFlags(frame); // PUBREL keeps its 0010 flags (MQTT-3.6.1-1)
        Assert.Equal(new AckPacket(7, (byte)reason), MqttDecoder.DecodeAckV5(body));
    }

    [Fact]
    public void Section_3_4_2_2_an_acknowledgement_with_properties_round_trips()
    {
        var props = new PropertyCodec.Builder().String(PropertyId.ReasonString, "no").Pair("k", "v");

        var (_, body) = Frame(Write(w => MqttV5Encoder.WriteAck(w, MqttPacketType.PubAck, 9, ReasonCode.Success, props)));

        Assert.Equal([0x00, 0x09, 0x00], body[..3]);
        var position = 3;
        Assert.Equal([new(0x1F, "no"), new(0x26, ("k", "v"))], V5Read.Properties(body, ref position));
    }

    // ---- SUBACK / UNSUBACK (§3.9, §3.11) ----

    [Fact]
    public void Section_3_9_3_SUBACK_carries_one_reason_code_per_filter_after_an_empty_property_block()
    {
        var bytes = Write(w => MqttV5Encoder.WriteSubAck(w, MqttPacketType.SubAck, 0x0102, [0x00, 0x01, 0x02, 0x8F, 0x9E]));

        Assert.Equal([0x90, 0x08, 0x01, 0x02, 0x00, 0x00, 0x01, 0x02, 0x8F, 0x9E], bytes);
    }

    [Fact]
    public void Section_3_11_3_UNSUBACK_carries_one_reason_code_per_filter()
    {
        var bytes = Write(w => MqttV5Encoder.WriteSubAck(w, MqttPacketType.UnsubAck, 3, [0x00, 0x11]));

        Assert.Equal([0xB0, 0x05, 0x00, 0x03, 0x00, 0x00, 0x11], bytes);
    }

    [Fact]
    public void A_SUBACK_with_properties_places_them_before_the_reason_codes()
    {
        var props = new PropertyCodec.Builder().String(PropertyId.ReasonString, "why");

        var (_, body) = Frame(Write(w => MqttV5Encoder.WriteSubAck(w, MqttPacketType.SubAck, 1, [0x8F], props)));

        var position = 2;
        Assert.Equal([new(0x1F, "why")], V5Read.Properties(body, ref position));
        Assert.Equal([0x8F], body[position..]);
    }

    // ---- DISCONNECT (§3.14) ----

    [Theory]
    [InlineData(ReasonCode.SessionTakenOver)]
    [InlineData(ReasonCode.KeepAliveTimeout)]
    [InlineData(ReasonCode.MalformedPacket)]
    [InlineData(ReasonCode.ProtocolError)]
    [InlineData(ReasonCode.PacketTooLarge)]
    [InlineData(ReasonCode.ServerShuttingDown)]
    [InlineData(ReasonCode.ReceiveMaximumExceeded)]
    public void Section_3_14_2_a_server_DISCONNECT_carries_its_reason_and_an_empty_property_block(ReasonCode reason)
    {
        var bytes = Write(w => MqttV5Encoder.WriteDisconnect(w, reason));

        Assert.Equal([0xE0, 0x02, (byte)reason, 0x00], bytes);
        var (frame, body) = Frame(bytes);
        MqttDecoder.CheckFlags(frame);
        Assert.Equal(((byte)reason, (MqttProperties?)null), MqttDecoder.DecodeReasonAndProperties(body, PropertyContext.Disconnect));
    }

    [Fact]
    public void A_DISCONNECT_with_a_server_reference_and_reason_string_round_trips()
    {
        var props = new PropertyCodec.Builder().String(PropertyId.ServerReference, "other:1883").String(PropertyId.ReasonString, "moved");

        var (_, body) = Frame(Write(w => MqttV5Encoder.WriteDisconnect(w, ReasonCode.UseAnotherServer, props)));

        var (reason, read) = MqttDecoder.DecodeReasonAndProperties(body, PropertyContext.Disconnect);
        Assert.Equal(0x9C, reason);
        Assert.Equal(("other:1883", "moved"), (read!.ServerReference, read.ReasonString));
    }

    // ---- PUBLISH (§3.3) ----

    private static (string Topic, ushort PacketId, List<WireProperty> Props, byte[] Payload) ReadPublish(byte[] bytes)
    {
        var (frame, body) = Frame(bytes);
        Assert.Equal(MqttPacketType.Publish, frame.Type);
        var topicLength = BinaryPrimitives.ReadUInt16BigEndian(body);
        var topic = Encoding.UTF8.GetString(body, 2, topicLength);
        var position = 2 + topicLength;
        ushort id = 0;
        if (((frame.Flags >> 1) & 3) > 0)
        {
            id = BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(position));
            position += 2;
        }

        var props = V5Read.Properties(body, ref position);
        return (topic, id, props, body[position..]);
    }

    private static byte[] Patch(EncodedPublish encoded, ushort id) => Write(w => MqttEncoder.WritePublish(w, encoded, id));

    [Fact]
    public void Section_3_3_2_3_forwarded_properties_are_written_untouched()
    {
        var message = Message(properties: new MessageProperties
        {
            PayloadIsUtf8 = true,
            ContentType = "text/plain",
            ResponseTopic = "r/t",
            CorrelationData = new byte[] { 1, 2, 3 },
            UserProperties = [new("a", "1"), new("b", "2"), new("a", "3")],
        });

        var encoded = MqttV5Encoder.EncodePublish(message, QoS.AtLeastOnce, retain: true, dup: false, new PropertyCodec.Builder(), null, 0, null, 0, omitTopic: false);
        var bytes = Patch(encoded, 0xBEEF);

        Assert.Equal(0x33, bytes[0]); // PUBLISH, QoS 1, RETAIN
        var (topic, id, props, payload) = ReadPublish(bytes);
        Assert.Equal(("a/b", (ushort)0xBEEF), (topic, id));
        Assert.Equal("hi"u8.ToArray(), payload);
        Assert.Equal(
            [
                new(0x01, (byte)1), new(0x03, "text/plain"), new(0x08, "r/t"), new(0x09, new byte[] { 1, 2, 3 }),
                new(0x26, ("a", "1")), new(0x26, ("b", "2")), new(0x26, ("a", "3")),
            ],
            props,
            WirePropertyComparer.Instance);
    }

    [Fact]
    public void The_forwarded_PUBLISH_decodes_with_the_servers_own_decoder()
    {
        var message = Message(properties: new MessageProperties { ContentType = "x", UserProperties = [new("k", "v")] });
        var encoded = MqttV5Encoder.EncodePublish(message, QoS.ExactlyOnce, retain: false, dup: true, new PropertyCodec.Builder(), 30, 0, null, 0, omitTopic: false);

        var (frame, body) = Frame(Patch(encoded, 12));

        var decoded = MqttDecoder.DecodePublish(frame.Flags, body, v5: true);
        Assert.Equal(("a/b", QoS.ExactlyOnce, true, (ushort)12), (decoded.Topic, decoded.Qos, decoded.Dup, decoded.PacketId));
        Assert.Equal((30u, "x"), (decoded.Properties!.MessageExpiryInterval, decoded.Properties.ContentType));
        Assert.Equal("hi"u8.ToArray(), decoded.Payload);
    }

    [Fact]
    public void MQTT_3_3_2_6_the_remaining_message_expiry_is_written()
    {
        var encoded = MqttV5Encoder.EncodePublish(Message(), QoS.AtMostOnce, false, false, new PropertyCodec.Builder(), 17, 0, null, 0, false);

        var (_, _, props, _) = ReadPublish(encoded.Bytes);

        Assert.Equal([new(0x02, 17u)], props);
        Assert.Equal(-1, encoded.IdOffset); // QoS 0: no packet identifier (§3.3.2.2)
    }

    [Fact]
    public void MQTT_3_3_4_3_and_MQTT_3_3_4_5_every_matching_subscription_identifier_is_written()
    {
        var encoded = MqttV5Encoder.EncodePublish(Message(), QoS.AtLeastOnce, false, false, new PropertyCodec.Builder(), null, 5, [300, 268_435_455], 0, false);

        var (_, _, props, _) = ReadPublish(Patch(encoded, 1));

        Assert.Equal([new(0x0B, 5), new(0x0B, 300), new(0x0B, 268_435_455)], props);
    }

    [Fact]
    public void Section_3_3_2_3_4_a_topic_alias_is_sent_with_the_topic_the_first_time_and_without_it_after()
    {
        var first = MqttV5Encoder.EncodePublish(Message(), QoS.AtLeastOnce, false, false, new PropertyCodec.Builder(), null, 0, null, 4, omitTopic: false);
        var again = MqttV5Encoder.EncodePublish(Message(), QoS.AtLeastOnce, false, false, new PropertyCodec.Builder(), null, 0, null, 4, omitTopic: true);

        var one = ReadPublish(Patch(first, 1));
        var two = ReadPublish(Patch(again, 2));

        Assert.Equal(("a/b", (ushort)1), (one.Topic, one.PacketId));
        Assert.Equal([new(0x23, (ushort)4)], one.Props);
        Assert.Equal(("", (ushort)2), (two.Topic, two.PacketId));
        Assert.Equal([new(0x23, (ushort)4)], two.Props);
        Assert.Equal("hi"u8.ToArray(), two.Payload);
    }

    [Fact]
    public void A_message_without_properties_has_an_empty_property_block()
    {
        var encoded = MqttV5Encoder.EncodePublish(Message(), QoS.AtMostOnce, false, false, new PropertyCodec.Builder(), null, 0, null, 0, false);

        Assert.Equal([0x30, 0x08, 0x00, 0x03, (byte)'a', (byte)'/', (byte)'b', 0x00, (byte)'h', (byte)'i'], encoded.Bytes);
    }

    [Fact]
    public void A_reused_builder_does_not_leak_properties_from_the_previous_message()
    {
        var builder = new PropertyCodec.Builder();
        MqttV5Encoder.EncodePublish(Message(properties: new MessageProperties { ContentType = "first" }), QoS.AtMostOnce, false, false, builder, 9, 3, null, 2, false);

        var second = MqttV5Encoder.EncodePublish(Message(), QoS.AtMostOnce, false, false, builder, null, 0, null, 0, false);

        Assert.Empty(ReadPublish(second.Bytes).Props);
    }

    [Fact]
    public void A_large_PUBLISH_gets_a_multi_byte_remaining_length()
    {
        var payload = new string('x', 20_000);

        var encoded = MqttV5Encoder.EncodePublish(Message(payload: payload), QoS.AtLeastOnce, false, false, new PropertyCodec.Builder(), 60, 0, null, 0, false);

        var (_, _, props, read) = ReadPublish(Patch(encoded, 1));
        Assert.Equal([new(0x02, 60u)], props);
        Assert.Equal(20_000, read.Length);
    }

    /// <summary>Compares wire properties, byte arrays by content.</summary>
    private sealed class WirePropertyComparer : IEqualityComparer<WireProperty>
    {
        public static readonly WirePropertyComparer Instance = new();

        public bool Equals(WireProperty x, WireProperty y) =>
            x.Id == y.Id && (x.Value is byte[] a && y.Value is byte[] b ? a.AsSpan().SequenceEqual(b) : Equals(x.Value, y.Value));

        public int GetHashCode(WireProperty obj) => obj.Id;
    }
}
