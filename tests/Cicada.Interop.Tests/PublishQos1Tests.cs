using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 3.1.1 §4.3.2 QoS 1 "at least once" delivery and §3.4 PUBACK.</summary>
public sealed class PublishQos1Tests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Theory]
    [InlineData((ushort)1)]
    [InlineData((ushort)0x1234)]
    [InlineData((ushort)0xFFFF)]
    public async Task MQTT_2_3_1_6_puback_carries_the_publish_packet_id(ushort packetId)
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SendAsync(MqttPackets.Publish(TestNames.Topic("q1"), "ack me", qos: 1, packetId: packetId));

        var pubAck = await client.ReadPacketAsync(PacketType.PubAck);

        Assert.Equal(0x40, pubAck.Header);
        Assert.Equal(2, pubAck.Body.Length);
        Assert.Equal(packetId, pubAck.PacketId);
    }

    [Fact]
    public async Task MQTT_2_3_1_1_qos1_publish_with_packet_id_0_closes_connection()
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SendAsync(MqttPackets.Publish(TestNames.Topic("q1"), "no id", qos: 1, packetId: 0));

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.PubAck);
        await BrokerAssert.StillServesAsync(_port);
    }

    [Fact]
    public async Task MQTT_2_3_1_1_qos1_delivery_has_nonzero_packet_id_and_dup_0()
    {
        var topic = TestNames.Topic("q1");
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeAsync(topic, 1);
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(topic, "at least once", qos: 1);

        var publish = await subscriber.ReadPublishAsync();

        Assert.Equal(0x32, publish.Header); // first delivery: DUP 0 (MQTT-3.3.1-3), QoS 1, RETAIN 0
        Assert.NotEqual(0, publish.PacketId);
        Assert.Equal("at least once", publish.PayloadText);
        await subscriber.SendAsync(MqttPackets.PubAck(publish.PacketId));
        await subscriber.AssertOpenAsync();
    }

    [Fact]
    public async Task MQTT_2_3_1_2_unacknowledged_deliveries_use_distinct_packet_ids()
    {
        var topic = TestNames.Topic("ids");
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeAsync(topic, 1);
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        for (var i = 0; i < 5; i++)
        {
            await publisher.PublishAsync(topic, $"m{i}", qos: 1);
        }

        // None is acknowledged yet, so every packet id is still in use and must differ.
        var deliveries = new List<MqttPacket>();
        for (var i = 0; i < 5; i++)
        {
            deliveries.Add(await subscriber.ReadPublishAsync());
        }

        Assert.Equal(5, deliveries.Select(p => p.PacketId).Distinct().Count());
        Assert.Equal(["m0", "m1", "m2", "m3", "m4"], deliveries.Select(p => p.PayloadText));
    }

    [Fact]
    public async Task MQTT_3_8_4_6_qos1_message_is_downgraded_to_granted_qos0()
    {
        var topic = TestNames.Topic("down");
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        Assert.Equal([0], (await subscriber.SubscribeAsync(topic, 0)).SubAckReturnCodes);
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(topic, "downgraded", qos: 1);

        var publish = await subscriber.ReadPublishAsync();

        Assert.Equal(0, publish.QoS);
        Assert.Equal("downgraded", publish.PayloadText);
    }

    [Fact]
    public async Task MQTT_3_8_4_6_qos1_message_is_not_upgraded_by_a_qos2_subscription()
    {
        var topic = TestNames.Topic("noup");
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeAsync(topic, 2);
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(topic, "stays qos1", qos: 1);

        var publish = await subscriber.ReceivePublishAsync();

        Assert.Equal(1, publish.QoS);
    }

    [Fact]
    public async Task MQTT_4_3_2_every_subscriber_gets_its_own_qos1_copy()
    {
        var topic = TestNames.Topic("fan");
        var subscribers = new List<RawMqttClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId($"s{i}"));
                subscribers.Add(subscriber);
                await subscriber.SubscribeAsync(topic, 1);
            }

            await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
            await publisher.PublishAsync(topic, "for everyone", qos: 1);

            foreach (var subscriber in subscribers)
            {
                var publish = await subscriber.ReceivePublishAsync();
                Assert.Equal("for everyone", publish.PayloadText);
                Assert.Equal(1, publish.QoS);
            }
        }
        finally
        {
            foreach (var subscriber in subscribers)
            {
                await subscriber.DisposeAsync();
            }
        }
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_4_3_2_qos1_mosquitto_pub_to_mosquitto_sub(MqttVersion version)
    {
        var topic = TestNames.Topic("q1");
        await using var subscriber = await MosquittoClients.SubscribeAsync(_port, topic, qos: 1, count: 1, version: version);
        await MosquittoClients.PublishAsync(_port, topic, "hello qos1", qos: 1, version: version);

        var message = Assert.Single(await subscriber.WaitForExitAsync());
        Assert.Equal(new ReceivedMessage(topic, "hello qos1", 1, false), message);
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_4_3_2_qos1_paho_to_mqttnet(MqttVersion version)
    {
        var topic = TestNames.Topic("q1");
        await using var subscriber = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("net"), version);
        var subscribe = await subscriber.SubscribeAsync(topic, 1);
        Assert.Equal(MQTTnet.MqttClientSubscribeResultCode.GrantedQoS1, Assert.Single(subscribe.Items).ResultCode);
        var payloads = Enumerable.Range(0, 20).Select(i => $"paho-{i}").ToList();
        await PahoClient.PublishAsync(_port, topic, payloads, qos: 1, version: version);

        var messages = await subscriber.NextMessagesAsync(payloads.Count);

        Assert.Equal(payloads, messages.Select(m => m.Payload));
        Assert.All(messages, m => Assert.Equal(1, m.QoS));
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_4_3_2_qos1_mqttnet_to_mosquitto_sub(MqttVersion version)
    {
        var topic = TestNames.Topic("q1");
        await using var subscriber = await MosquittoClients.SubscribeAsync(_port, topic, qos: 1, count: 10, version: version);
        await using var publisher = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("net"), version);
        var payloads = Enumerable.Range(0, 10).Select(i => $"net-{i}").ToList();
        foreach (var payload in payloads)
        {
            var result = await publisher.PublishAsync(topic, payload, 1);
            Assert.NotEqual(0, result.PacketIdentifier ?? 0);
        }

        var messages = await subscriber.WaitForExitAsync();

        Assert.Equal(payloads, messages.Select(m => m.Payload));
        Assert.All(messages, m => Assert.Equal(1, m.QoS));
    }
}
