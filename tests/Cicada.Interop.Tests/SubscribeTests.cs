using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 3.1.1 §3.8 SUBSCRIBE / §3.9 SUBACK and §3.10 UNSUBSCRIBE / §3.11 UNSUBACK.</summary>
public sealed class SubscribeTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Fact]
    public async Task MQTT_3_8_4_2_suback_carries_the_subscribe_packet_id()
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SendAsync(MqttPackets.Subscribe(0xBEEF, (TestNames.Topic("id"), 1)));

        var subAck = await client.ReadPacketAsync(PacketType.SubAck);

        Assert.Equal(0x90, subAck.Header);
        Assert.Equal(0xBEEF, subAck.PacketId);
        Assert.Equal([1], subAck.SubAckReturnCodes);
    }

    [Fact]
    public async Task MQTT_3_8_4_5_suback_has_one_return_code_per_filter_in_order()
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());

        var subAck = await client.SubscribeAsync((TestNames.Topic("a"), 2), (TestNames.Topic("b"), 0), (TestNames.Topic("c"), 1), (TestNames.Topic("d"), 2));

        // §3.9.3 lets a server grant less than requested; both Cicada and mosquitto support QoS 2
        // and grant the requested maximum, which is what makes the order observable.
        Assert.Equal([2, 0, 1, 2], subAck.SubAckReturnCodes);
    }

    [Fact]
    public async Task MQTT_3_8_4_3_repeated_subscription_replaces_the_existing_one()
    {
        var topic = TestNames.Topic("replace");
        var sentinel = TestNames.Topic("sentinel");
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SubscribeAsync((topic, 0), (sentinel, 0));
        Assert.Equal([1], (await client.SubscribeAsync(topic, 1)).SubAckReturnCodes);

        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(topic, "once", qos: 1);
        await publisher.PublishAsync(sentinel, "end");

        var before = await client.ReceiveUntilAsync(sentinel);

        var publish = Assert.Single(before); // one subscription, so one copy ...
        Assert.Equal(1, publish.QoS); // ... at the new maximum QoS
    }

    [Fact]
    public async Task MQTT_3_8_3_3_subscribe_without_any_filter_closes_connection()
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SendAsync(MqttPackets.Subscribe(1));

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.SubAck);
        await BrokerAssert.StillServesAsync(_port);
    }

    [Fact]
    public async Task MQTT_3_8_3_4_subscribe_requesting_qos_3_closes_connection()
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SendAsync(MqttPackets.Subscribe(1, (TestNames.Topic("q3"), 3)));

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.SubAck);
        await BrokerAssert.StillServesAsync(_port);
    }

    [Fact]
    public async Task MQTT_3_8_3_4_subscribe_with_reserved_option_bits_closes_connection()
    {
        // The requested-QoS byte's upper six bits are reserved and MUST be 0 in 3.1.1.
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SendAsync(MqttPackets.Subscribe(1, (TestNames.Topic("opts"), 0x04 | 1)));

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.SubAck);
    }

    [Fact]
    public async Task MQTT_3_10_4_4_unsuback_carries_the_unsubscribe_packet_id()
    {
        var topic = TestNames.Topic("unsub");
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SubscribeAsync(topic, 1);
        await client.SendAsync(MqttPackets.Unsubscribe(0xCAFE, topic));

        var unsubAck = await client.ReadPacketAsync(PacketType.UnsubAck);

        Assert.Equal(0xB0, unsubAck.Header);
        Assert.Equal(2, unsubAck.Body.Length);
        Assert.Equal(0xCAFE, unsubAck.PacketId);
    }

    [Fact]
    public async Task MQTT_3_10_4_1_unsubscribed_filter_receives_no_more_messages()
    {
        var topic = TestNames.Topic("gone");
        var sentinel = TestNames.Topic("sentinel");
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SubscribeAsync((topic, 1), (sentinel, 1));
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(topic, "before", qos: 1);
        Assert.Equal("before", (await client.ReceivePublishAsync()).PayloadText);

        await client.UnsubscribeAsync(topic);
        await publisher.PublishAsync(topic, "after", qos: 1);
        await publisher.PublishAsync(sentinel, "end", qos: 1);

        Assert.Empty(await client.ReceiveUntilAsync(sentinel));
    }

    [Fact]
    public async Task MQTT_3_10_4_5_unsubscribe_of_unknown_filter_still_gets_unsuback()
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.UnsubscribeAsync(TestNames.Topic("never-subscribed"));
        await client.AssertOpenAsync();
    }

    [Fact]
    public async Task MQTT_3_10_1_1_unsubscribe_with_reserved_flags_0000_closes_connection()
    {
        var topic = TestNames.Topic("flags");
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SubscribeAsync(topic, 0);
        await client.SendAsync(MqttPackets.Unsubscribe(5, 0xA0, topic));

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.UnsubAck);
        await BrokerAssert.StillServesAsync(_port);
    }

    [Fact]
    public async Task MQTT_3_10_3_2_unsubscribe_without_any_filter_closes_connection()
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SendAsync(MqttPackets.Unsubscribe(5));

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.UnsubAck);
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_3_9_mqttnet_and_paho_subscribers_get_granted_qos(MqttVersion version)
    {
        var topic = TestNames.Topic("granted");
        await using var net = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("net"), version);
        var result = await net.SubscribeAsync(topic, 2);
        Assert.Equal(MQTTnet.MqttClientSubscribeResultCode.GrantedQoS2, Assert.Single(result.Items).ResultCode);

        await using var paho = await PahoClient.SubscribeAsync(_port, topic, qos: 1, count: 1, version: version);
        Assert.Equal([1], paho.GrantedQoS);

        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"), version);
        await publisher.PublishAsync(topic, "to both", qos: 2);

        Assert.Equal(new ReceivedMessage(topic, "to both", 2, false), await net.NextMessageAsync());
        Assert.Equal(new ReceivedMessage(topic, "to both", 1, false), Assert.Single(await paho.WaitForExitAsync()));
    }
}
