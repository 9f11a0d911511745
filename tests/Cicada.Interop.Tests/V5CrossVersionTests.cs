using Cicada.Interop.Tests.Infrastructure;
using MQTTnet.Formatter;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 3.1.1 and MQTT 5 clients on one topic space: each gets the other's messages in its own protocol.</summary>
public sealed class V5CrossVersionTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task A_3_x_subscriber_gets_a_v5_publish_as_a_plain_PUBLISH_without_properties(MqttVersion version)
    {
        var topic = TestNames.Topic("x");
        await using var old = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("old"), version);
        await old.SubscribeAsync(topic, 1);
        await using var modern = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("new"));

        await modern.PublishV5Async(topic, "payload", 1, props: new V5Props()
            .String(Prop.ContentType, "text/plain")
            .String(Prop.ResponseTopic, "r")
            .UInt32(Prop.MessageExpiryInterval, 100)
            .UInt16(Prop.TopicAlias, 1)
            .User("k", "v"));

        var p = await old.ReceivePublishAsync();
        Assert.Equal(topic, p.Topic);
        Assert.Equal("payload", p.PayloadText); // 3.1.1 §3.3.2: topic, packet id, payload — no property bytes in between
        Assert.Equal(2 + topic.Length + 2 + "payload".Length, p.Body.Length);
    }

    [Fact]
    public async Task A_v5_subscriber_gets_a_3_1_1_publish_with_an_empty_property_block()
    {
        var topic = TestNames.Topic("y");
        await using var modern = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("new"));
        await modern.SubscribeV5Async(topic, 1, subscriptionId: 3);
        await using var old = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("old"));

        await old.PublishAsync(topic, "from 3.1.1", qos: 1);

        var p = await modern.ReceiveV5Async();
        Assert.Equal(("from 3.1.1", 1), (p.PayloadText, p.QoS));
        Assert.Equal([3], p.SubscriptionIds);
        Assert.Equal([Prop.SubscriptionIdentifier], p.Properties.Select(x => x.Id));
    }

    [Fact]
    public async Task A_v5_retained_message_reaches_a_3_1_1_subscriber_as_retained()
    {
        var topic = TestNames.Topic("r");
        await using (var modern = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("new")))
        {
            await modern.PublishV5Async(topic, "state", 1, retain: true, props: new V5Props().String(Prop.ContentType, "text/plain"));
        }

        await using var old = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("old"));
        await old.SubscribeAsync(topic, 1);

        var p = await old.ReceivePublishAsync();
        Assert.True(p.Retain);
        Assert.Equal("state", p.PayloadText);
        await old.PublishAsync(topic, "", qos: 1, retain: true);
    }

    [Fact]
    public async Task MQTTnet_3_1_1_and_MQTTnet_5_exchange_messages_both_ways()
    {
        var topic = TestNames.Topic("net");
        await using var v311 = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("n3"));
        await using var v500 = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("n5"), configure: b => b.WithProtocolVersion(MqttProtocolVersion.V500));
        await v311.SubscribeAsync(topic + "/to3", 1);
        await v500.SubscribeAsync(topic + "/to5", 1);

        await v500.PublishAsync(topic + "/to3", "five to three", 1);
        await v311.PublishAsync(topic + "/to5", "three to five", 1);

        Assert.Equal("five to three", (await v311.NextMessageAsync()).Payload);
        Assert.Equal("three to five", (await v500.NextMessageAsync()).Payload);
        await v311.DisconnectAsync();
        await v500.DisconnectAsync();
    }

    [Fact]
    public async Task Mosquitto_clients_of_both_versions_share_the_topic_space()
    {
        var topic = TestNames.Topic("mq");
        await using var sub5 = await MosquittoClients.SubscribeAsync(_port, topic, qos: 1, count: 1, extra: ["-V", "mqttv5"]);
        await using var sub3 = await MosquittoClients.SubscribeAsync(_port, topic, qos: 1, count: 1);

        await MosquittoClients.PublishAsync(_port, topic, "to both", qos: 1, extra: ["-V", "mqttv5", "-D", "publish", "user-property", "a", "b"]);

        Assert.Equal("to both", Assert.Single(await sub5.WaitForExitAsync()).Payload);
        Assert.Equal("to both", Assert.Single(await sub3.WaitForExitAsync()).Payload);
    }
}
