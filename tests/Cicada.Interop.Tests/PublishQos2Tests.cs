using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 3.1.1 §4.3.3 QoS 2 "exactly once" delivery and §3.5–3.7 PUBREC/PUBREL/PUBCOMP.</summary>
public sealed class PublishQos2Tests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Fact]
    public async Task MQTT_4_3_3_pubrec_and_pubcomp_carry_the_publish_packet_id()
    {
        const ushort packetId = 0x4242;
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SendAsync(MqttPackets.Publish(TestNames.Topic("q2"), "exactly once", qos: 2, packetId: packetId));

        var pubRec = await client.ReadPacketAsync(PacketType.PubRec);
        Assert.Equal(0x50, pubRec.Header);
        Assert.Equal(packetId, pubRec.PacketId);

        await client.SendAsync(MqttPackets.PubRel(packetId));
        var pubComp = await client.ReadPacketAsync(PacketType.PubComp);
        Assert.Equal(0x70, pubComp.Header);
        Assert.Equal(packetId, pubComp.PacketId);
    }

    [SkippableTheory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task MQTT_4_3_3_2_resent_publish_before_pubrel_is_delivered_exactly_once(int resends)
    {
        if (resends > 1)
        {
            // Observed: the second DUP re-send of an unreleased QoS 2 PUBLISH is answered with
            // "disconnected due to protocol error" instead of another PUBREC.
            KnownDeviation.SkipOnMosquitto("MQTT-4.3.3-2 requires a PUBREC for ANY subsequent PUBLISH with the same id before PUBREL");
        }

        var topic = TestNames.Topic("once");
        var sentinel = TestNames.Topic("sentinel");
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeAsync((topic, 2), (sentinel, 2));
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));

        const ushort packetId = 7;
        await publisher.SendAsync(MqttPackets.Publish(topic, "only one", qos: 2, packetId: packetId));
        Assert.Equal(packetId, (await publisher.ReadPacketAsync(PacketType.PubRec)).PacketId);

        // The publisher "did not see" the PUBREC and re-sends with DUP=1 (MQTT-3.3.1-1).
        for (var i = 0; i < resends; i++)
        {
            await publisher.SendAsync(MqttPackets.Publish(topic, "only one", qos: 2, packetId: packetId, dup: true));
            Assert.Equal(packetId, (await publisher.ReadPacketAsync(PacketType.PubRec)).PacketId); // MQTT-4.3.3-2: PUBREC again
        }

        await publisher.SendAsync(MqttPackets.PubRel(packetId));
        Assert.Equal(packetId, (await publisher.ReadPacketAsync(PacketType.PubComp)).PacketId);
        await publisher.PublishAsync(sentinel, "end", qos: 2);

        var before = await subscriber.ReceiveUntilAsync(sentinel);

        var delivered = Assert.Single(before);
        Assert.Equal("only one", delivered.PayloadText);
        await BrokerAssert.NothingMoreAsync(subscriber);
    }

    [Fact]
    public async Task MQTT_4_3_3_2_packet_id_reused_after_pubcomp_is_a_new_message()
    {
        var topic = TestNames.Topic("reuse");
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeAsync(topic, 2);
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));

        foreach (var payload in new[] { "first", "second" })
        {
            await publisher.SendAsync(MqttPackets.Publish(topic, payload, qos: 2, packetId: 9));
            Assert.Equal(9, (await publisher.ReadPacketAsync(PacketType.PubRec)).PacketId);
            await publisher.SendAsync(MqttPackets.PubRel(9));
            Assert.Equal(9, (await publisher.ReadPacketAsync(PacketType.PubComp)).PacketId);
        }

        Assert.Equal("first", (await subscriber.ReceivePublishAsync()).PayloadText);
        Assert.Equal("second", (await subscriber.ReceivePublishAsync()).PayloadText);
    }

    [Fact]
    public async Task MQTT_3_6_1_1_broker_pubrel_has_flags_0010_and_the_delivery_packet_id()
    {
        var topic = TestNames.Topic("q2out");
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeAsync(topic, 2);
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(topic, "outbound qos2", qos: 2);

        var publish = await subscriber.ReadPublishAsync();
        Assert.Equal(0x34, publish.Header); // DUP 0, QoS 2, RETAIN 0
        Assert.NotEqual(0, publish.PacketId);

        await subscriber.SendAsync(MqttPackets.PubRec(publish.PacketId));
        var pubRel = await subscriber.ReadPacketAsync(PacketType.PubRel);
        Assert.Equal(0x62, pubRel.Header);
        Assert.Equal(publish.PacketId, pubRel.PacketId);

        await subscriber.SendAsync(MqttPackets.PubComp(publish.PacketId));
        await subscriber.AssertOpenAsync();
    }

    [Fact]
    public async Task MQTT_3_6_1_1_pubrel_with_reserved_flags_0000_closes_connection()
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SendAsync(MqttPackets.Publish(TestNames.Topic("q2"), "x", qos: 2, packetId: 3));
        Assert.Equal(3, (await client.ReadPacketAsync(PacketType.PubRec)).PacketId);

        await client.SendAsync(MqttPackets.PubRel(3, header: 0x60));
        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.PubComp);
        await BrokerAssert.StillServesAsync(_port);
    }

    [Fact]
    public async Task MQTT_3_8_4_6_qos2_message_is_downgraded_to_granted_qos1()
    {
        var topic = TestNames.Topic("down");
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        Assert.Equal([1], (await subscriber.SubscribeAsync(topic, 1)).SubAckReturnCodes);
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(topic, "was qos2", qos: 2);

        var publish = await subscriber.ReceivePublishAsync();

        Assert.Equal(1, publish.QoS);
        Assert.Equal("was qos2", publish.PayloadText);
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_4_3_3_qos2_mosquitto_pub_to_mosquitto_sub(MqttVersion version)
    {
        var topic = TestNames.Topic("q2");
        await using var subscriber = await MosquittoClients.SubscribeAsync(_port, topic, qos: 2, count: 1, version: version);
        await MosquittoClients.PublishAsync(_port, topic, "hello qos2", qos: 2, version: version);

        var message = Assert.Single(await subscriber.WaitForExitAsync());
        Assert.Equal(new ReceivedMessage(topic, "hello qos2", 2, false), message);
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_4_3_3_qos2_paho_to_mqttnet_exactly_once(MqttVersion version)
    {
        var topic = TestNames.Topic("q2");
        await using var subscriber = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("net"), version);
        await subscriber.SubscribeAsync(topic, 2);
        var payloads = Enumerable.Range(0, 20).Select(i => $"paho-{i}").ToList();
        await PahoClient.PublishAsync(_port, topic, payloads, qos: 2, version: version);

        var messages = await subscriber.NextMessagesAsync(payloads.Count);

        Assert.Equal(payloads, messages.Select(m => m.Payload));
        Assert.All(messages, m => Assert.Equal(2, m.QoS));
        var extra = await Assert.ThrowsAsync<TimeoutException>(() => subscriber.NextMessageAsync(Timeouts.Quiet));
        Assert.NotNull(extra);
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_4_3_3_qos2_mqttnet_to_paho(MqttVersion version)
    {
        var topic = TestNames.Topic("q2");
        await using var subscriber = await PahoClient.SubscribeAsync(_port, topic, qos: 2, count: 10, version: version);
        Assert.Equal([2], subscriber.GrantedQoS);
        await using var publisher = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("net"), version);
        var payloads = Enumerable.Range(0, 10).Select(i => $"net-{i}").ToList();
        foreach (var payload in payloads)
        {
            await publisher.PublishAsync(topic, payload, 2);
        }

        var messages = await subscriber.WaitForExitAsync();

        Assert.Equal(payloads, messages.Select(m => m.Payload));
        Assert.All(messages, m => Assert.Equal(2, m.QoS));
    }
}
