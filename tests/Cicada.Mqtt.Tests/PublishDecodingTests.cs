using System.Text;
using Cicada.Core;
using Cicada.Mqtt.Protocol;

namespace Cicada.Mqtt.Tests;

/// <summary>PUBLISH (MQTT 3.1.1 §3.3) and the two-byte acknowledgements (§3.4-§3.7).</summary>
public class PublishDecodingTests
{
    private const int Retain = 0x01;
    private const int Dup = 0x08;

    private static int Qos(int qos) => qos << 1;

    private static string Violation(int flags, PacketBuilder body) =>
        Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodePublish(flags, body.ToArray())).Rule;

    [Fact]
    public void A_QoS_0_PUBLISH_has_no_packet_identifier()
    {
        var p = MqttDecoder.DecodePublish(Qos(0), new PacketBuilder().String("a/b").Bytes(1, 2, 3).ToArray());

        Assert.Equal(("a/b", QoS.AtMostOnce, false, false, (ushort)0), (p.Topic, p.Qos, p.Retain, p.Dup, p.PacketId));
        Assert.Equal([1, 2, 3], p.Payload);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 0xFFFF)]
    [InlineData(1, 0x0102)]
    public void QoS_1_and_2_PUBLISH_carry_a_packet_identifier(int qos, int id)
    {
        var p = MqttDecoder.DecodePublish(Qos(qos) | Retain, new PacketBuilder().String("t").UInt16(id).Bytes(0x61).ToArray());

        Assert.Equal((QoS)qos, p.Qos);
        Assert.Equal(id, p.PacketId);
        Assert.True(p.Retain);
        Assert.Equal("a", Encoding.UTF8.GetString(p.Payload));
    }

    [Fact]
    public void MQTT_3_3_1_1_DUP_is_reported_on_a_QoS_1_resend()
    {
        var p = MqttDecoder.DecodePublish(Qos(1) | Dup, new PacketBuilder().String("t").UInt16(5).ToArray());
        Assert.True(p.Dup);
        Assert.False(p.Retain);
    }

    [Fact]
    public void MQTT_3_3_1_4_QoS_3_is_a_violation() =>
        Assert.Equal("MQTT-3.3.1-4", Violation(Qos(3), new PacketBuilder().String("t").UInt16(1)));

    [Fact]
    public void MQTT_3_3_1_2_DUP_on_QoS_0_is_a_violation() =>
        Assert.Equal("MQTT-3.3.1-2", Violation(Qos(0) | Dup, new PacketBuilder().String("t")));

    [Theory]
    [InlineData("a/+")]
    [InlineData("a/#")]
    [InlineData("#")]
    [InlineData("+")]
    [InlineData("a+b")]
    public void MQTT_3_3_2_2_a_topic_name_with_wildcards_is_a_violation(string topic) =>
        Assert.Equal("MQTT-3.3.2-2", Violation(Qos(0), new PacketBuilder().String(topic)));

    [Fact]
    public void MQTT_4_7_3_1_an_empty_topic_name_is_a_violation() =>
        Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodePublish(Qos(1), new PacketBuilder().String("").UInt16(1).ToArray()));

    [Fact]
    public void MQTT_1_5_3_2_U0000_in_the_topic_is_a_violation() =>
        Assert.Equal("MQTT-1.5.3-2", Violation(Qos(0), new PacketBuilder().String("a\0b")));

    [Fact]
    public void MQTT_1_5_3_1_ill_formed_UTF_8_in_the_topic_is_a_violation() =>
        Assert.Equal("MQTT-1.5.3-1", Violation(Qos(0), new PacketBuilder().Binary(0x61, 0xED, 0xA0, 0x80)));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void MQTT_2_3_1_1_packet_identifier_0_is_a_violation(int qos) =>
        Assert.Equal("MQTT-2.3.1-1", Violation(Qos(qos), new PacketBuilder().String("t").UInt16(0)));

    [Fact]
    public void Section_3_3_3_an_empty_payload_is_valid()
    {
        Assert.Empty(MqttDecoder.DecodePublish(Qos(0) | Retain, new PacketBuilder().String("t").ToArray()).Payload);
        Assert.Empty(MqttDecoder.DecodePublish(Qos(2), new PacketBuilder().String("t").UInt16(3).ToArray()).Payload);
    }

    [Fact]
    public void Section_3_3_3_the_payload_is_opaque_binary()
    {
        byte[] payload = [0x00, 0xFF, 0xED, 0xA0, 0x80, 0x00];
        Assert.Equal(payload, MqttDecoder.DecodePublish(Qos(0), new PacketBuilder().String("t").Bytes(payload).ToArray()).Payload);
    }

    [Fact]
    public void The_payload_is_a_copy_that_outlives_the_input_buffer()
    {
        // The pipe's memory is reused after AdvanceTo: the shared payload must not alias it.
        var body = new PacketBuilder().String("t").Bytes(1, 2).ToArray();
        var p = MqttDecoder.DecodePublish(Qos(0), body);
        Array.Clear(body);
        Assert.Equal([1, 2], p.Payload);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0x00 })]
    [InlineData(new byte[] { 0x00, 0x05, 0x61 })]
    [InlineData(new byte[] { 0x00, 0x01, 0x61, 0x00 })] // QoS 1: half a packet identifier
    public void A_truncated_PUBLISH_is_malformed(byte[] body) =>
        Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodePublish(Qos(1), body));

    [Theory]
    [InlineData(new byte[] { 0x00, 0x01 }, 1)]
    [InlineData(new byte[] { 0xAB, 0xCD }, 0xABCD)]
    public void Acknowledgements_are_exactly_a_packet_identifier(byte[] body, int id) =>
        Assert.Equal(id, MqttDecoder.DecodePacketId(body));

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0x01 })]
    [InlineData(new byte[] { 0x00, 0x01, 0x00 })]
    public void Acknowledgements_of_another_length_are_malformed(byte[] body) =>
        Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodePacketId(body));
}
