using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Mqtt.Tests;

/// <summary>MQTT 5 property blocks (§2.2.2): decoding, per-packet validity, duplicates, encoding.</summary>
public class V5PropertyTests
{
    private static MqttProperties? Read(byte[] block, PropertyContext context)
    {
        var reader = new MqttReader(block);
        var props = PropertyCodec.Read(ref reader, context);
        Assert.True(reader.End);
        return props;
    }

    private static MqttProtocolException Fails(byte[] block, PropertyContext context) =>
        Assert.Throws<MqttProtocolException>(() => Read(block, context));

    [Fact]
    public void Empty_block_decodes_to_null()
    {
        Assert.Null(Read([0x00], PropertyContext.Publish));
    }

    [Fact]
    public void Builder_output_round_trips_through_the_reader()
    {
        var builder = new PropertyCodec.Builder()
            .Byte(PropertyId.PayloadFormatIndicator, 1)
            .UInt32(PropertyId.MessageExpiryInterval, 3600)
            .String(PropertyId.ContentType, "application/json")
            .String(PropertyId.ResponseTopic, "reply/here")
            .Binary(PropertyId.CorrelationData, [1, 2, 3])
            .VarInt(PropertyId.SubscriptionIdentifier, 268_435_455)
            .UInt16(PropertyId.TopicAlias, 7)
            .Pair("k", "v1")
            .Pair("k", "v2");
        var block = new byte[builder.EncodedSize];
        Assert.Equal(block.Length, builder.WriteTo(block));

        var p = Read(block, PropertyContext.Publish)!;
        Assert.Equal((byte)1, p.PayloadFormatIndicator);
        Assert.Equal(3600u, p.MessageExpiryInterval);
        Assert.Equal("application/json", p.ContentType);
        Assert.Equal("reply/here", p.ResponseTopic);
        Assert.Equal([1, 2, 3], p.CorrelationData);
        Assert.Equal([268_435_455], p.SubscriptionIdentifiers!);
        Assert.Equal((ushort)7, p.TopicAlias);
        Assert.Equal(["v1", "v2"], p.UserProperties!.Select(kv => kv.Value));
    }

    [Fact]
    public void MQTT_2_2_2_2_a_property_given_twice_is_a_protocol_error()
    {
        // Content Type twice.
        var ex = Fails([0x08, 0x03, 0x00, 0x01, (byte)'a', 0x03, 0x00, 0x01, (byte)'b'], PropertyContext.Publish);
        Assert.Equal(0x82, ex.ReasonCode);
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 0x00 })] // an empty block's length in two bytes
    [InlineData(new byte[] { 0x06, 0x0B, 0x85, 0x00, 0x00, 0x00, 0x00 })] // Subscription Identifier 5 in two bytes
    public void MQTT_1_5_5_1_a_variable_byte_integer_not_in_its_shortest_form_is_malformed(byte[] block)
    {
        var ex = Fails(block, PropertyContext.Publish);
        Assert.Equal("MQTT-1.5.5-1", ex.Rule);
        Assert.Equal(0x81, ex.ReasonCode);
    }

    [Fact]
    public void MQTT_2_2_2_2_user_properties_may_repeat()
    {
        var p = Read([0x0B, 0x26, 0x00, 0x01, (byte)'a', 0x00, 0x00, 0x26, 0x00, 0x00, 0x00, 0x00], PropertyContext.Connect)!;
        Assert.Equal(2, p.UserProperties!.Count);
    }

    [Theory]
    [InlineData(PropertyContext.Connect, 0x23)] // Topic Alias only in PUBLISH
    [InlineData(PropertyContext.Publish, 0x11)] // Session Expiry not in PUBLISH
    [InlineData(PropertyContext.Subscribe, 0x02)] // Message Expiry not in SUBSCRIBE
    [InlineData(PropertyContext.Will, 0x0B)] // Subscription Identifier not in a will
    public void A_property_outside_its_packets_is_refused(PropertyContext context, byte id)
    {
        Fails([0x05, id, 0x00, 0x00, 0x00, 0x01], context);
    }

    [Fact]
    public void Receive_maximum_of_zero_is_a_protocol_error()
    {
        Assert.Equal(0x82, Fails([0x03, 0x21, 0x00, 0x00], PropertyContext.Connect).ReasonCode);
    }

    [Fact]
    public void MQTT_3_8_2_1_2_one_subscription_identifier_per_subscribe_and_never_zero()
    {
        Assert.Equal(0x82, Fails([0x04, 0x0B, 0x01, 0x0B, 0x02], PropertyContext.Subscribe).ReasonCode);
        Assert.Equal(0x82, Fails([0x02, 0x0B, 0x00], PropertyContext.Subscribe).ReasonCode);
    }

    [Fact]
    public void Payload_format_indicator_must_be_0_or_1()
    {
        Assert.Equal(0x82, Fails([0x02, 0x01, 0x02], PropertyContext.Publish).ReasonCode);
    }

    [Fact]
    public void A_block_longer_than_the_packet_is_malformed()
    {
        Assert.Equal(0x81, Fails([0x09, 0x01, 0x01], PropertyContext.Publish).ReasonCode);
    }
}
