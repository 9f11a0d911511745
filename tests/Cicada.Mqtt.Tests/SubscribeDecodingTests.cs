using Cicada.Core;
using Cicada.Mqtt.Protocol;

namespace Cicada.Mqtt.Tests;

/// <summary>SUBSCRIBE (MQTT 3.1.1 §3.8) and UNSUBSCRIBE (§3.10).</summary>
public class SubscribeDecodingTests
{
    private static (ushort Id, List<TopicRequest> Filters) Subscribe(PacketBuilder body)
    {
        var filters = new List<TopicRequest>();
        var id = MqttDecoder.DecodeSubscribe(body.ToArray(), filters);
        return (id, filters);
    }

    private static string SubscribeViolation(PacketBuilder body) =>
        Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeSubscribe(body.ToArray(), [])).Rule;

    [Fact]
    public void MQTT_3_8_4_5_filters_are_decoded_in_order_with_their_requested_QoS()
    {
        var (id, filters) = Subscribe(new PacketBuilder().UInt16(0x1234)
            .String("a/b").Bytes(0).String("c/+").Bytes(1).String("#").Bytes(2).String("a/b").Bytes(1));

        Assert.Equal(0x1234, id);
        Assert.Equal(
            [new("a/b", QoS.AtMostOnce), new("c/+", QoS.AtLeastOnce), new("#", QoS.ExactlyOnce), new("a/b", QoS.AtLeastOnce)],
            filters);
    }

    [Fact]
    public void MQTT_2_3_1_1_SUBSCRIBE_with_packet_identifier_0_is_a_violation() =>
        Assert.Equal("MQTT-2.3.1-1", SubscribeViolation(new PacketBuilder().UInt16(0).String("a").Bytes(0)));

    [Fact]
    public void MQTT_3_8_3_3_SUBSCRIBE_without_a_filter_is_a_violation() =>
        Assert.Equal("MQTT-3.8.3-3", SubscribeViolation(new PacketBuilder().UInt16(1)));

    [Theory]
    [InlineData(0x03)]
    [InlineData(0x04)]
    [InlineData(0x80)]
    [InlineData(0xFC)]
    [InlineData(0x41)]
    public void MQTT_3_8_3_4_reserved_bits_or_QoS_3_in_the_requested_QoS_byte_are_a_violation(byte options) =>
        Assert.Equal("MQTT-3.8.3-4", SubscribeViolation(new PacketBuilder().UInt16(1).String("a").Bytes(0).String("b").Bytes(options)));

    [Fact]
    public void A_filter_without_its_QoS_byte_is_malformed() =>
        Assert.Throws<MqttProtocolException>(() => Subscribe(new PacketBuilder().UInt16(1).String("a").Bytes(1).String("b")));

    [Fact]
    public void MQTT_1_5_3_1_an_ill_formed_UTF_8_filter_is_a_violation() =>
        Assert.Equal("MQTT-1.5.3-1", SubscribeViolation(new PacketBuilder().UInt16(1).Binary(0xC3, 0x28).Bytes(0)));

    [Fact]
    public void MQTT_1_5_3_2_a_filter_with_U0000_is_a_violation() =>
        Assert.Equal("MQTT-1.5.3-2", SubscribeViolation(new PacketBuilder().UInt16(1).String("a/\0").Bytes(0)));

    [Fact]
    public void UNSUBSCRIBE_filters_are_decoded_in_order()
    {
        var filters = new List<string>();
        var id = MqttDecoder.DecodeUnsubscribe(new PacketBuilder().UInt16(77).String("a/#").String("+/b").String("a/#").ToArray(), filters);

        Assert.Equal(77, id);
        Assert.Equal(["a/#", "+/b", "a/#"], filters);
    }

    [Fact]
    public void MQTT_3_10_3_2_UNSUBSCRIBE_without_a_filter_is_a_violation() =>
        Assert.Equal("MQTT-3.10.3-2",
            Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeUnsubscribe(new PacketBuilder().UInt16(1).ToArray(), [])).Rule);

    [Fact]
    public void MQTT_2_3_1_1_UNSUBSCRIBE_with_packet_identifier_0_is_a_violation() =>
        Assert.Equal("MQTT-2.3.1-1",
            Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeUnsubscribe(new PacketBuilder().UInt16(0).String("a").ToArray(), [])).Rule);

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0x00 })]
    [InlineData(new byte[] { 0x00, 0x01, 0x00, 0x03, 0x61 })]
    public void A_truncated_UNSUBSCRIBE_is_malformed(byte[] body) =>
        Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeUnsubscribe(body, []));
}
