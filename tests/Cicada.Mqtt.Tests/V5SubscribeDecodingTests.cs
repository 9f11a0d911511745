using Cicada.Core;
using Cicada.Mqtt.Protocol;

namespace Cicada.Mqtt.Tests;

/// <summary>MQTT 5 SUBSCRIBE (§3.8) with subscription options and identifiers, and UNSUBSCRIBE (§3.10).</summary>
public class V5SubscribeDecodingTests
{
    private static (ushort Id, List<TopicRequest> Filters, int SubscriptionId) Subscribe(PacketBuilder body)
    {
        var filters = new List<TopicRequest>();
        var id = MqttDecoder.DecodeSubscribe(body.ToArray(), filters, v5: true, out var subscriptionId);
        return (id, filters, subscriptionId);
    }

    private static MqttProtocolException Refused(PacketBuilder body) =>
        Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeSubscribe(body.ToArray(), [], v5: true, out _));

    [Fact]
    public void Section_3_8_3_1_every_subscription_option_decodes_per_filter()
    {
        var (id, filters, subId) = Subscribe(new PacketBuilder().UInt16(42).NoProps()
            .String("a").Bytes(0b0000_0000)      // QoS 0
            .String("b/+").Bytes(0b0000_0101)    // QoS 1, No Local
            .String("c/#").Bytes(0b0000_1010)    // QoS 2, Retain As Published
            .String("d").Bytes(0b0001_0001)      // QoS 1, Retain Handling 1
            .String("e").Bytes(0b0010_1110));    // QoS 2, No Local, RAP, Retain Handling 2

        Assert.Equal(42, id);
        Assert.Equal(0, subId);
        Assert.Equal(
            [
                new("a", QoS.AtMostOnce),
                new("b/+", QoS.AtLeastOnce, NoLocal: true),
                new("c/#", QoS.ExactlyOnce, RetainAsPublished: true),
                new("d", QoS.AtLeastOnce, RetainHandling: 1),
                new("e", QoS.ExactlyOnce, NoLocal: true, RetainAsPublished: true, RetainHandling: 2),
            ],
            filters);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(16_384)]
    [InlineData(268_435_455)] // the largest Variable Byte Integer (§3.8.2.1.2)
    public void Section_3_8_2_1_2_the_subscription_identifier_decodes(int subscriptionId)
    {
        var (_, _, decoded) = Subscribe(new PacketBuilder().UInt16(1).Props(new V5Props().VarInt(0x0B, subscriptionId)).String("a").Bytes(1));

        Assert.Equal(subscriptionId, decoded);
    }

    [Fact]
    public void Section_3_8_2_1_3_user_properties_are_allowed_in_SUBSCRIBE()
    {
        var (_, filters, _) = Subscribe(new PacketBuilder().UInt16(1).Props(new V5Props().User("k", "v")).String("a").Bytes(1));

        Assert.Single(filters);
    }

    [Theory]
    [InlineData(0b0100_0000)]
    [InlineData(0b1000_0000)]
    [InlineData(0b1100_0001)]
    public void MQTT_3_8_3_5_reserved_bits_of_the_subscription_options_make_SUBSCRIBE_malformed(byte options)
    {
        var ex = Refused(new PacketBuilder().UInt16(1).NoProps().String("a").Bytes(options));

        Assert.Equal(("MQTT-3.8.3-5", 0x81), (ex.Rule, ex.ReasonCode));
    }

    [Fact]
    public void Section_3_8_3_1_retain_handling_3_is_a_protocol_error() =>
        Assert.Equal(0x82, Refused(new PacketBuilder().UInt16(1).NoProps().String("a").Bytes(0b0011_0000)).ReasonCode);

    [Fact]
    public void Section_3_8_3_1_maximum_QoS_3_is_a_protocol_error() =>
        Assert.Equal(0x82, Refused(new PacketBuilder().UInt16(1).NoProps().String("a").Bytes(0b0000_0011)).ReasonCode);

    [Fact]
    public void Section_3_8_2_1_2_two_subscription_identifiers_are_a_protocol_error() =>
        Assert.Equal(0x82, Refused(new PacketBuilder().UInt16(1).Props(new V5Props().VarInt(0x0B, 1).VarInt(0x0B, 2)).String("a").Bytes(0)).ReasonCode);

    [Fact]
    public void Section_3_8_2_1_2_subscription_identifier_0_is_a_protocol_error() =>
        Assert.Equal(0x82, Refused(new PacketBuilder().UInt16(1).Props(new V5Props().VarInt(0x0B, 0)).String("a").Bytes(0)).ReasonCode);

    [Theory]
    [InlineData(0x23)] // Topic Alias
    [InlineData(0x02)] // Message Expiry Interval
    [InlineData(0x11)] // Session Expiry Interval
    [InlineData(0x1F)] // Reason String
    public void Section_2_2_2_2_a_property_not_valid_in_SUBSCRIBE_makes_it_malformed(byte id) =>
        Assert.Equal(0x81, Refused(new PacketBuilder().UInt16(1).Props(new V5Props().Raw(id, 0, 0, 0, 1)).String("a").Bytes(0)).ReasonCode);

    [Fact]
    public void MQTT_3_8_3_2_a_v5_SUBSCRIBE_without_a_filter_is_a_protocol_error() =>
        Assert.Equal(0x82, Refused(new PacketBuilder().UInt16(1).NoProps()).ReasonCode);

    [Fact]
    public void MQTT_2_3_1_1_a_v5_SUBSCRIBE_with_packet_identifier_0_is_refused() =>
        Assert.Equal("MQTT-2.3.1-1", Refused(new PacketBuilder().UInt16(0).NoProps().String("a").Bytes(0)).Rule);

    [Fact]
    public void A_filter_without_its_options_byte_is_malformed() =>
        Assert.Equal(0x81, Refused(new PacketBuilder().UInt16(1).NoProps().String("a")).ReasonCode);

    [Fact]
    public void Shared_and_invalid_filters_decode_and_are_judged_by_the_connection()
    {
        // §3.9.3: an invalid filter gets SUBACK 0x8F, which needs the rest of the packet decoded.
        var (_, filters, _) = Subscribe(new PacketBuilder().UInt16(1).NoProps()
            .String("$share/g/a/#").Bytes(1).String("a/#/b").Bytes(0));

        Assert.Equal(["$share/g/a/#", "a/#/b"], filters.Select(f => f.Filter));
    }

    // ---- UNSUBSCRIBE (§3.10) ----

    [Fact]
    public void Section_3_10_2_1_UNSUBSCRIBE_with_user_properties_decodes_its_filters()
    {
        var filters = new List<string>();

        var id = MqttDecoder.DecodeUnsubscribe(
            new PacketBuilder().UInt16(77).Props(new V5Props().User("k", "v")).String("a/+").String("$share/g/b").ToArray(), filters, v5: true);

        Assert.Equal(77, id);
        Assert.Equal(["a/+", "$share/g/b"], filters);
    }

    [Theory]
    [InlineData(0x0B)] // Subscription Identifier: SUBSCRIBE only
    [InlineData(0x1F)] // Reason String
    public void Section_2_2_2_2_a_property_not_valid_in_UNSUBSCRIBE_makes_it_malformed(byte id)
    {
        var body = new PacketBuilder().UInt16(1).Props(new V5Props().Raw(id, 0, 1, 0x61)).String("a").ToArray();

        Assert.Equal(0x81, Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeUnsubscribe(body, [], v5: true)).ReasonCode);
    }

    [Fact]
    public void MQTT_3_10_3_2_a_v5_UNSUBSCRIBE_without_a_filter_is_a_protocol_error()
    {
        var body = new PacketBuilder().UInt16(1).NoProps().ToArray();

        Assert.Equal(0x82, Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeUnsubscribe(body, [], v5: true)).ReasonCode);
    }
}
