using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 3.1.1 §3.3.1.3 RETAIN.</summary>
public sealed class RetainedMessageTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_3_3_1_8_retained_message_is_sent_to_new_subscriber_with_retain_1(MqttVersion version)
    {
        var topic = TestNames.Topic("kept");
        await PublishRetainedAsync(topic, "21.5", qos: 1);

        var retained = await NewSubscriberReceivesAsync(topic, 1, version);

        var publish = Assert.Single(retained);
        Assert.True(publish.Retain);
        Assert.Equal(topic, publish.Topic);
        Assert.Equal("21.5", publish.PayloadText);
        Assert.Equal(1, publish.QoS);
    }

    [Fact]
    public async Task MQTT_3_3_1_9_established_subscription_gets_retain_0_for_retained_publish()
    {
        var topic = TestNames.Topic("live");
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeAsync(topic, 1);
        await PublishRetainedAsync(topic, "live value", qos: 1);

        var publish = await subscriber.ReceivePublishAsync();

        Assert.Equal("live value", publish.PayloadText);
        Assert.False(publish.Retain);
    }

    [Fact]
    public async Task MQTT_3_3_1_7_new_retained_message_replaces_the_old_one()
    {
        var topic = TestNames.Topic("replace");
        await PublishRetainedAsync(topic, "v1");
        await PublishRetainedAsync(topic, "v2");
        await PublishRetainedAsync(topic, "v3");

        var retained = await NewSubscriberReceivesAsync(topic, 0);

        Assert.Equal("v3", Assert.Single(retained).PayloadText);
    }

    [Fact]
    public async Task MQTT_3_3_1_10_empty_retained_payload_clears_the_retained_message_and_is_still_delivered()
    {
        var topic = TestNames.Topic("clear");
        await PublishRetainedAsync(topic, "to be cleared");
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeAsync(topic, 0);
        Assert.True((await subscriber.ReceivePublishAsync()).Retain);

        await PublishRetainedAsync(topic, "");

        // "processed as normal by the Server and sent to Clients with a subscription matching".
        var live = await subscriber.ReceivePublishAsync();
        Assert.Empty(live.Payload);
        Assert.Equal(topic, live.Topic);

        // MQTT-3.3.1-11: and nothing is retained any more.
        Assert.Empty(await NewSubscriberReceivesAsync(topic, 0));
    }

    [Fact]
    public async Task MQTT_3_3_1_12_publish_without_retain_neither_stores_nor_replaces()
    {
        var topic = TestNames.Topic("keep");
        await PublishRetainedAsync(topic, "retained");
        await using (var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub")))
        {
            await publisher.PublishAsync(topic, "not retained", qos: 1);
        }

        var other = TestNames.Topic("never");
        await using (var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub")))
        {
            await publisher.PublishAsync(other, "not retained", qos: 1);
        }

        Assert.Equal("retained", Assert.Single(await NewSubscriberReceivesAsync(topic, 0)).PayloadText);
        Assert.Empty(await NewSubscriberReceivesAsync(other, 0));
    }

    [Fact]
    public async Task MQTT_3_3_1_6_retained_messages_match_wildcard_subscriptions()
    {
        var root = TestNames.Topic("room");
        await PublishRetainedAsync($"{root}/kitchen/temp", "20");
        await PublishRetainedAsync($"{root}/hall/temp", "18");
        await PublishRetainedAsync($"{root}/hall/humidity", "40");

        var retained = await NewSubscriberReceivesAsync($"{root}/+/temp", 0);

        Assert.Equal(
            [($"{root}/hall/temp", "18"), ($"{root}/kitchen/temp", "20")],
            retained.Select(p => (p.Topic, p.PayloadText)).Order());
        Assert.All(retained, p => Assert.True(p.Retain));
    }

    [Theory]
    [InlineData(2, 0, 0)]
    [InlineData(2, 1, 1)]
    [InlineData(1, 2, 1)]
    [InlineData(0, 2, 0)]
    public async Task MQTT_3_8_4_6_retained_message_is_delivered_at_the_minimum_of_both_qos(int publishedQoS, int subscribedQoS, int expectedQoS)
    {
        var topic = TestNames.Topic("qos");
        await PublishRetainedAsync(topic, "q", publishedQoS);

        var publish = Assert.Single(await NewSubscriberReceivesAsync(topic, subscribedQoS));

        Assert.Equal(expectedQoS, publish.QoS);
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_3_3_1_5_mosquitto_pub_retained_is_seen_by_later_mosquitto_sub(MqttVersion version)
    {
        var topic = TestNames.Topic("cli");
        await MosquittoClients.PublishAsync(_port, topic, "retained by cli", qos: 1, retain: true, version: version);

        await using var subscriber = await MosquittoClients.SubscribeAsync(_port, topic, qos: 1, count: 1, version: version);
        var message = Assert.Single(await subscriber.WaitForExitAsync());

        Assert.Equal(new ReceivedMessage(topic, "retained by cli", 1, true), message);
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_3_3_1_5_paho_retained_is_seen_by_later_mqttnet_and_cleared_by_mqttnet(MqttVersion version)
    {
        var topic = TestNames.Topic("libs");
        await PahoClient.PublishAsync(_port, topic, ["from paho"], qos: 1, retain: true, version: version);

        await using (var subscriber = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("net"), version))
        {
            await subscriber.SubscribeAsync(topic, 1);
            Assert.Equal(new ReceivedMessage(topic, "from paho", 1, true), await subscriber.NextMessageAsync());
            await subscriber.PublishAsync(topic, "", 1, retain: true);
        }

        Assert.Empty(await NewSubscriberReceivesAsync(topic, 1));
    }

    private async Task PublishRetainedAsync(string topic, string payload, int qos = 1)
    {
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.SendAsync(MqttPackets.Publish(topic, payload, qos, packetId: (ushort)(qos > 0 ? 1 : 0), retain: true));
        if (qos == 0)
        {
            // Nothing acknowledges QoS 0; a PINGRESP after it shows the PUBLISH was read and processed.
            await publisher.AssertOpenAsync();
        }
        else
        {
            await publisher.ReadPacketAsync(qos == 1 ? PacketType.PubAck : PacketType.PubRec);
            if (qos == 2)
            {
                await publisher.SendAsync(MqttPackets.PubRel(1));
                await publisher.ReadPacketAsync(PacketType.PubComp);
            }
        }

        await publisher.DisconnectAsync();
    }

    /// <summary>
    /// A fresh client subscribes to <paramref name="filter"/> and then to a sentinel topic holding a
    /// retained message: every retained message for the first subscription is sent before the
    /// second SUBSCRIBE is even processed, so those before the sentinel are all of them.
    /// </summary>
    private async Task<List<MqttPacket>> NewSubscriberReceivesAsync(string filter, int qos, MqttVersion version = MqttVersion.V311)
    {
        var sentinel = TestNames.Topic("sentinel");
        await PublishRetainedAsync(sentinel, "end", qos: 0);
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"), version);
        await subscriber.SubscribeAsync(filter, qos);
        await subscriber.SubscribeAsync(sentinel, 0);

        var retained = await subscriber.ReceiveUntilAsync(sentinel);
        await BrokerAssert.NothingMoreAsync(subscriber);
        return retained;
    }
}
