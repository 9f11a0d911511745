using Cicada.Core;
using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Mqtt.Tests;

/// <summary>MQTT 5 PUBLISH (§3.3) with properties, and the acknowledgements with reason codes (§3.4-§3.7).</summary>
public class V5PublishDecodingTests
{
    private static int Qos(int qos) => qos << 1;

    private static PublishPacket Decode(int flags, PacketBuilder body) => MqttDecoder.DecodePublish(flags, body.ToArray(), v5: true);

    private static MqttProtocolException Refused(int flags, PacketBuilder body) =>
        Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodePublish(flags, body.ToArray(), v5: true));

    [Fact]
    public void Section_3_3_2_3_every_PUBLISH_property_decodes_and_the_payload_follows_the_block()
    {
        var props = new V5Props()
            .Byte(0x01, 1)
            .UInt32(0x02, 60)
            .String(0x03, "application/json")
            .String(0x08, "reply/to/me")
            .Binary(0x09, [0xCA, 0xFE])
            .UInt16(0x23, 3)
            .User("a", "1")
            .User("b", "2")
            .User("a", "3");

        var p = Decode(Qos(1), new PacketBuilder().String("t/1").UInt16(7).Props(props).Bytes("{}"u8.ToArray()));

        Assert.Equal(("t/1", QoS.AtLeastOnce, (ushort)7), (p.Topic, p.Qos, p.PacketId));
        Assert.Equal("{}"u8.ToArray(), p.Payload);
        var m = p.Properties!;
        Assert.Equal((byte)1, m.PayloadFormatIndicator);
        Assert.Equal(60u, m.MessageExpiryInterval);
        Assert.Equal("application/json", m.ContentType);
        Assert.Equal("reply/to/me", m.ResponseTopic);
        Assert.Equal([0xCA, 0xFE], m.CorrelationData);
        Assert.Equal((ushort)3, m.TopicAlias);

        // MQTT-3.3.2-17/18: user properties keep their order, duplicates included.
        Assert.Equal([new("a", "1"), new("b", "2"), new("a", "3")], m.UserProperties!);
    }

    [Fact]
    public void A_QoS_0_v5_PUBLISH_has_no_packet_id_before_its_properties()
    {
        var p = Decode(Qos(0), new PacketBuilder().String("t").Props(new V5Props().UInt32(0x02, 5)).Bytes(0x78));

        Assert.Equal((ushort)0, p.PacketId);
        Assert.Equal(5u, p.Properties!.MessageExpiryInterval);
        Assert.Equal([0x78], p.Payload);
    }

    [Fact]
    public void An_empty_payload_follows_an_empty_property_block()
    {
        var p = Decode(Qos(2), new PacketBuilder().String("t").UInt16(1).NoProps());

        Assert.Null(p.Properties);
        Assert.Empty(p.Payload);
    }

    [Fact]
    public void Section_3_3_2_3_4_a_v5_PUBLISH_may_have_an_empty_topic_when_it_carries_a_topic_alias()
    {
        var p = Decode(Qos(0), new PacketBuilder().String("").Props(new V5Props().UInt16(0x23, 1)).Bytes(1));

        Assert.Equal("", p.Topic);
        Assert.Equal((ushort)1, p.Properties!.TopicAlias);
    }

    [Fact]
    public void MQTT_4_7_3_1_a_3_1_1_PUBLISH_may_not_have_an_empty_topic() =>
        Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodePublish(0, new PacketBuilder().String("").Bytes(1).ToArray(), v5: false));

    [Theory]
    [InlineData("a/+")]
    [InlineData("#")]
    public void MQTT_3_3_2_2_a_v5_topic_name_with_wildcards_is_refused(string topic) =>
        Assert.Equal("MQTT-3.3.2-2", Refused(0, new PacketBuilder().String(topic).NoProps()).Rule);

    [Fact]
    public void MQTT_3_3_4_6_a_subscription_identifier_from_a_client_is_a_protocol_error()
    {
        var ex = Refused(Qos(1), new PacketBuilder().String("t").UInt16(1).Props(new V5Props().VarInt(0x0B, 5)));

        Assert.Equal(("MQTT-3.3.4-6", 0x82), (ex.Rule, ex.ReasonCode));
    }

    [Theory]
    [InlineData(0x01, new byte[] { 1 })]
    [InlineData(0x02, new byte[] { 0, 0, 0, 9 })]
    [InlineData(0x03, new byte[] { 0, 0 })]
    [InlineData(0x08, new byte[] { 0, 1, 0x72 })]
    [InlineData(0x09, new byte[] { 0, 1, 0xFF })]
    [InlineData(0x23, new byte[] { 0, 1 })]
    public void MQTT_2_2_2_2_a_PUBLISH_property_given_twice_is_a_protocol_error(byte id, byte[] value)
    {
        var props = new V5Props().Raw([id, .. value]).Raw([id, .. value]);

        Assert.Equal(0x82, Refused(0, new PacketBuilder().String("t").Props(props)).ReasonCode);
    }

    [Theory]
    [InlineData(0x11)] // Session Expiry Interval
    [InlineData(0x21)] // Receive Maximum
    [InlineData(0x1F)] // Reason String
    [InlineData(0x18)] // Will Delay Interval: a will property, not a PUBLISH one
    [InlineData(0x15)] // Authentication Method
    [InlineData(0x17)] // Request Problem Information
    public void Section_2_2_2_2_a_property_not_valid_in_PUBLISH_makes_it_malformed(byte id) =>
        Assert.Equal(0x81, Refused(0, new PacketBuilder().String("t").Props(new V5Props().Raw(id, 0, 0, 0, 1))).ReasonCode);

    [Fact]
    public void Section_2_2_2_2_a_multi_byte_property_identifier_is_not_mistaken_for_a_one_byte_one()
    {
        // Identifier 0x101 (Variable Byte Integer 0x81 0x02) is no property; its low byte is Payload Format Indicator.
        var ex = Refused(0, new PacketBuilder().String("t").Props(new V5Props().Raw(0x81, 0x02, 0x01)));

        Assert.Equal(0x81, ex.ReasonCode);
    }

    [Fact]
    public void Section_3_3_2_3_2_a_payload_format_indicator_other_than_0_or_1_is_a_protocol_error() =>
        Assert.Equal(0x82, Refused(0, new PacketBuilder().String("t").Props(new V5Props().Byte(0x01, 2))).ReasonCode);

    [Fact]
    public void A_property_block_longer_than_the_PUBLISH_is_malformed() =>
        Assert.Equal(0x81, Refused(0, new PacketBuilder().String("t").Bytes(0x10, 0x01, 0x01)).ReasonCode);

    [Fact]
    public void MQTT_2_3_1_1_a_v5_QoS_1_PUBLISH_with_packet_identifier_0_is_refused() =>
        Assert.Equal("MQTT-2.3.1-1", Refused(Qos(1), new PacketBuilder().String("t").UInt16(0).NoProps()).Rule);

    // ---- PUBACK / PUBREC / PUBREL / PUBCOMP (§3.4.2) ----

    [Fact]
    public void Section_3_4_2_1_an_acknowledgement_of_two_bytes_means_success()
    {
        var ack = MqttDecoder.DecodeAckV5(new PacketBuilder().UInt16(0x1234).ToArray());

        Assert.Equal(new AckPacket(0x1234, 0), ack);
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x10)] // No matching subscribers
    [InlineData(0x80)]
    [InlineData(0x92)] // Packet Identifier not found
    [InlineData(0x99)]
    public void Section_3_4_2_1_an_acknowledgement_may_carry_just_a_reason_code(byte reason) =>
        Assert.Equal(new AckPacket(5, reason), MqttDecoder.DecodeAckV5(new PacketBuilder().UInt16(5).Bytes(reason).ToArray()));

    [Fact]
    public void Section_3_4_2_2_an_acknowledgement_may_carry_a_reason_string_and_user_properties()
    {
        var props = new V5Props().String(0x1F, "quota").User("k", "v").User("k", "w");

        var ack = MqttDecoder.DecodeAckV5(new PacketBuilder().UInt16(9).Bytes(0x97).Props(props).ToArray());

        Assert.Equal(new AckPacket(9, 0x97), ack);
    }

    [Fact]
    public void MQTT_2_2_2_2_a_reason_string_given_twice_in_an_acknowledgement_is_a_protocol_error()
    {
        var props = new V5Props().String(0x1F, "a").String(0x1F, "b");

        var ex = Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeAckV5(new PacketBuilder().UInt16(9).Bytes(0).Props(props).ToArray()));

        Assert.Equal(0x82, ex.ReasonCode);
    }

    [Theory]
    [InlineData(0x11)] // Session Expiry Interval
    [InlineData(0x02)] // Message Expiry Interval
    [InlineData(0x23)] // Topic Alias
    public void Section_2_2_2_2_a_property_not_valid_in_an_acknowledgement_makes_it_malformed(byte id)
    {
        var body = new PacketBuilder().UInt16(1).Bytes(0).Props(new V5Props().Raw(id, 0, 0, 0, 1)).ToArray();

        Assert.Equal(0x81, Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeAckV5(body)).ReasonCode);
    }

    [Fact]
    public void Bytes_after_an_acknowledgements_properties_are_malformed()
    {
        var body = new PacketBuilder().UInt16(1).Bytes(0).NoProps().Bytes(0).ToArray();

        Assert.Equal(0x81, Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeAckV5(body)).ReasonCode);
    }

    [Fact]
    public void An_acknowledgement_shorter_than_its_packet_identifier_is_malformed() =>
        Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeAckV5([0x01]));

    // ---- DISCONNECT (§3.14) and AUTH (§3.15) ----

    [Fact]
    public void Section_3_14_2_1_a_DISCONNECT_with_no_body_means_normal_disconnection()
    {
        var (reason, props) = MqttDecoder.DecodeReasonAndProperties([], PropertyContext.Disconnect);

        Assert.Equal((0, (MqttProperties?)null), (reason, props));
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x04)] // Disconnect with Will Message
    [InlineData(0x80)]
    public void Section_3_14_2_1_a_DISCONNECT_may_carry_just_its_reason_code(byte code)
    {
        var (reason, props) = MqttDecoder.DecodeReasonAndProperties([code], PropertyContext.Disconnect);

        Assert.Equal(code, reason);
        Assert.Null(props);
    }

    [Fact]
    public void Section_3_14_2_2_DISCONNECT_properties_decode()
    {
        var body = new PacketBuilder().Bytes(0x04)
            .Props(new V5Props().UInt32(0x11, 0).String(0x1F, "bye").User("x", "y")).ToArray();

        var (reason, props) = MqttDecoder.DecodeReasonAndProperties(body, PropertyContext.Disconnect);

        Assert.Equal(0x04, reason);
        Assert.Equal(0u, props!.SessionExpiryInterval);
        Assert.Equal("bye", props.ReasonString);
        Assert.Equal([new("x", "y")], props.UserProperties!);
    }

    [Theory]
    [InlineData(0x23)] // Topic Alias
    [InlineData(0x21)] // Receive Maximum
    [InlineData(0x15)] // Authentication Method
    public void Section_2_2_2_2_a_property_not_valid_in_DISCONNECT_makes_it_malformed(byte id)
    {
        var body = new PacketBuilder().Bytes(0).Props(new V5Props().Raw(id, 0, 1)).ToArray();

        var ex = Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeReasonAndProperties(body, PropertyContext.Disconnect));

        Assert.Equal(0x81, ex.ReasonCode);
    }

    [Fact]
    public void MQTT_2_2_2_2_a_session_expiry_given_twice_in_DISCONNECT_is_a_protocol_error()
    {
        var body = new PacketBuilder().Bytes(0).Props(new V5Props().UInt32(0x11, 1).UInt32(0x11, 2)).ToArray();

        var ex = Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeReasonAndProperties(body, PropertyContext.Disconnect));

        Assert.Equal(0x82, ex.ReasonCode);
    }

    [Fact]
    public void Section_3_15_2_AUTH_properties_decode()
    {
        var body = new PacketBuilder().Bytes(0x18)
            .Props(new V5Props().String(0x15, "SCRAM-SHA-256").Binary(0x16, [1, 2, 3]).String(0x1F, "step")).ToArray();

        var (reason, props) = MqttDecoder.DecodeReasonAndProperties(body, PropertyContext.Auth);

        Assert.Equal(0x18, reason);
        Assert.Equal("SCRAM-SHA-256", props!.AuthenticationMethod);
        Assert.Equal([1, 2, 3], props.AuthenticationData);
        Assert.Equal("step", props.ReasonString);
    }

    [Fact]
    public void Section_2_2_2_2_a_session_expiry_in_AUTH_makes_it_malformed()
    {
        var body = new PacketBuilder().Bytes(0x18).Props(new V5Props().UInt32(0x11, 1)).ToArray();

        var ex = Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeReasonAndProperties(body, PropertyContext.Auth));

        Assert.Equal(0x81, ex.ReasonCode);
    }
}
