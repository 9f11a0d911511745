using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 3.1.1 §3.3 PUBLISH and §4.3.1 QoS 0 "at most once" delivery.</summary>
public sealed class PublishQos0Tests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Fact]
    public async Task MQTT_3_3_4_1_qos0_publish_gets_no_response()
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SendAsync(MqttPackets.Publish(TestNames.Topic("q0"), "fire and forget", qos: 0));

        // The PINGRESP is the next packet: nothing (no PUBACK/PUBREC) was sent for the QoS 0 PUBLISH.
        await client.SendAsync(MqttPackets.PingReq());
        Assert.Equal(PacketType.PingResp, (await client.ReadPacketAsync()).Type);
    }

    [Fact]
    public async Task MQTT_3_3_1_2_qos0_delivery_has_dup_0_and_no_packet_id()
    {
        var topic = TestNames.Topic("q0");
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeAsync(topic, 0);
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(topic, "payload-0");

        var publish = await subscriber.ReadPublishAsync();

        Assert.Equal(0x30, publish.Header); // DUP 0 (MQTT-3.3.1-2), QoS 0, RETAIN 0
        Assert.Equal(topic, publish.Topic);
        Assert.Equal("payload-0", publish.PayloadText); // QoS 0: no packet id before the payload
    }

    [Fact]
    public async Task MQTT_3_3_5_empty_payload_is_delivered()
    {
        var topic = TestNames.Topic("empty");
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SubscribeAsync(topic, 0);
        await client.PublishAsync(topic, "");

        var publish = await client.ReadPublishAsync();

        Assert.Equal(topic, publish.Topic);
        Assert.Empty(publish.Payload);
    }

    [Fact]
    public async Task MQTT_4_6_0_6_qos0_messages_from_one_client_arrive_in_order()
    {
        var topic = TestNames.Topic("order");
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeAsync(topic, 0);
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        var sent = Enumerable.Range(0, 50).Select(i => $"m{i}").ToList();
        foreach (var payload in sent)
        {
            await publisher.PublishAsync(topic, payload);
        }

        var received = new List<string>();
        for (var i = 0; i < sent.Count; i++)
        {
            received.Add((await subscriber.ReadPublishAsync()).PayloadText);
        }

        Assert.Equal(sent, received);
    }

    [Fact]
    public async Task MQTT_3_3_binary_payload_is_delivered_byte_for_byte()
    {
        var topic = TestNames.Topic("binary");
        var payload = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SubscribeAsync(topic, 0);
        await client.SendAsync(MqttPackets.Publish(topic, payload));

        var publish = await client.ReadPublishAsync();

        Assert.Equal(payload, publish.Payload);
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_4_3_1_qos0_mosquitto_pub_to_mosquitto_sub(MqttVersion version)
    {
        var topic = TestNames.Topic("q0");
        await using var subscriber = await MosquittoClients.SubscribeAsync(_port, topic, qos: 0, count: 1, version: version);
        await MosquittoClients.PublishAsync(_port, topic, "hello mosquitto", qos: 0, version: version);

        var message = Assert.Single(await subscriber.WaitForExitAsync());
        Assert.Equal(new ReceivedMessage(topic, "hello mosquitto", 0, false), message);
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_4_3_1_qos0_paho_to_mqttnet(MqttVersion version)
    {
        var topic = TestNames.Topic("q0");
        await using var subscriber = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("net"), version);
        await subscriber.SubscribeAsync(topic, 0);
        await PahoClient.PublishAsync(_port, topic, ["one", "two", "three"], qos: 0, version: version);

        var messages = await subscriber.NextMessagesAsync(3);

        Assert.Equal(["one", "two", "three"], messages.Select(m => m.Payload));
        Assert.All(messages, m => Assert.Equal(0, m.QoS));
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_4_3_1_qos0_mqttnet_to_paho(MqttVersion version)
    {
        var topic = TestNames.Topic("q0");
        await using var subscriber = await PahoClient.SubscribeAsync(_port, topic, qos: 0, count: 2, version: version);
        await using var publisher = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("net"), version);
        await publisher.PublishAsync(topic, "a", 0);
        await publisher.PublishAsync(topic, "b", 0);

        var messages = await subscriber.WaitForExitAsync();

        Assert.Equal(["a", "b"], messages.Select(m => m.Payload));
        Assert.All(messages, m => Assert.Equal(topic, m.Topic));
    }
}
