using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 3.1.1 §3.1.2.4 Clean Session, §3.2.2.2 Session Present and §4.4 message delivery retry.</summary>
public sealed class PersistentSessionTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Fact]
    public async Task MQTT_3_2_2_3_first_connect_with_clean_session_0_has_session_present_0()
    {
        var (client, connAck) = await RawMqttClient.ConnectAsync(_port, Persistent(TestNames.ClientId("p")));
        await using var _ = client;

        Assert.Equal(0, connAck.ReturnCode);
        Assert.False(connAck.SessionPresent);
    }

    [Theory]
    [InlineData(1, MqttVersion.V311)]
    [InlineData(2, MqttVersion.V311)]
    [InlineData(1, MqttVersion.V31)]
    public async Task MQTT_3_1_2_4_session_resumes_with_session_present_and_queued_messages(int qos, MqttVersion version)
    {
        var clientId = TestNames.ClientId("p");
        var topic = TestNames.Topic("queued");
        await using (var first = await RawMqttClient.ConnectAcceptedAsync(_port, Persistent(clientId, version)))
        {
            await first.SubscribeAsync(topic, qos);
            await first.DisconnectAndWaitForCloseAsync();
        }

        await using (var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub")))
        {
            for (var i = 0; i < 3; i++)
            {
                await publisher.PublishAsync(topic, $"offline-{i}", qos);
            }
        }

        var (resumed, connAck) = await RawMqttClient.ConnectAsync(_port, Persistent(clientId, version));
        await using var _ = resumed;
        Assert.Equal(0, connAck.ReturnCode);
        if (version == MqttVersion.V311)
        {
            Assert.True(connAck.SessionPresent); // MQTT-3.2.2-2 (3.1 has no session-present flag)
        }

        // MQTT-3.1.2-5: QoS 1 and 2 messages that arrived while disconnected are part of the session.
        var received = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var publish = await resumed.ReceivePublishAsync();
            Assert.Equal(qos, publish.QoS);
            received.Add(publish.PayloadText);
        }

        Assert.Equal(["offline-0", "offline-1", "offline-2"], received);
    }

    [Fact]
    public async Task MQTT_3_1_2_6_clean_session_1_discards_the_previous_session()
    {
        var clientId = TestNames.ClientId("p");
        var topic = TestNames.Topic("old");
        var sentinel = TestNames.Topic("sentinel");
        await using (var first = await RawMqttClient.ConnectAcceptedAsync(_port, Persistent(clientId)))
        {
            await first.SubscribeAsync(topic, 1);
            await first.DisconnectAndWaitForCloseAsync();
        }

        var (clean, connAck) = await RawMqttClient.ConnectAsync(_port, new ConnectOptions { ClientId = clientId, CleanSession = true });
        await using var _ = clean;
        Assert.False(connAck.SessionPresent); // MQTT-3.2.2-1
        await clean.SubscribeAsync(sentinel, 1);
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(topic, "for the old session", qos: 1);
        await publisher.PublishAsync(sentinel, "end", qos: 1);

        Assert.Empty(await clean.ReceiveUntilAsync(sentinel)); // the old subscription is gone
    }

    [Fact]
    public async Task MQTT_3_1_2_6_clean_session_1_state_does_not_outlive_the_connection()
    {
        var clientId = TestNames.ClientId("p");
        var topic = TestNames.Topic("short");
        var sentinel = TestNames.Topic("sentinel");
        await using (var first = await RawMqttClient.ConnectAcceptedAsync(_port, new ConnectOptions { ClientId = clientId, CleanSession = true }))
        {
            await first.SubscribeAsync(topic, 1);
            await first.DisconnectAndWaitForCloseAsync();
        }

        var (second, connAck) = await RawMqttClient.ConnectAsync(_port, Persistent(clientId));
        await using var _ = second;
        Assert.False(connAck.SessionPresent);
        await second.SubscribeAsync(sentinel, 1);
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(topic, "nobody", qos: 1);
        await publisher.PublishAsync(sentinel, "end", qos: 1);

        Assert.Empty(await second.ReceiveUntilAsync(sentinel));
    }

    [Fact]
    public async Task MQTT_4_4_0_1_unacknowledged_qos1_delivery_is_resent_with_dup_and_same_packet_id()
    {
        var clientId = TestNames.ClientId("p");
        var topic = TestNames.Topic("inflight");
        var first = await RawMqttClient.ConnectAcceptedAsync(_port, Persistent(clientId));
        await first.SubscribeAsync(topic, 1);
        await using (var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub")))
        {
            await publisher.PublishAsync(topic, "ack me later", qos: 1);
        }

        var original = await first.ReadPublishAsync();
        Assert.False(original.Dup);
        first.Abort(); // no PUBACK
        await first.DisposeAsync();

        var (resumed, connAck) = await RawMqttClient.ConnectAsync(_port, Persistent(clientId));
        await using var _ = resumed;
        Assert.True(connAck.SessionPresent);
        var resent = await resumed.ReadPublishAsync();

        Assert.True(resent.Dup); // MQTT-3.3.1-1
        Assert.Equal(original.PacketId, resent.PacketId);
        Assert.Equal("ack me later", resent.PayloadText);
        await resumed.SendAsync(MqttPackets.PubAck(resent.PacketId));
        await resumed.AssertOpenAsync();
    }

    [Fact]
    public async Task MQTT_4_4_0_1_unacknowledged_qos2_delivery_is_resent_with_dup_and_same_packet_id()
    {
        var clientId = TestNames.ClientId("p");
        var topic = TestNames.Topic("inflight2");
        var first = await RawMqttClient.ConnectAcceptedAsync(_port, Persistent(clientId));
        await first.SubscribeAsync(topic, 2);
        await using (var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub")))
        {
            await publisher.PublishAsync(topic, "exactly once, eventually", qos: 2);
        }

        var original = await first.ReadPublishAsync();
        first.Abort(); // no PUBREC
        await first.DisposeAsync();

        await using var resumed = await RawMqttClient.ConnectAcceptedAsync(_port, Persistent(clientId));
        var resent = await resumed.ReadPublishAsync();

        Assert.True(resent.Dup);
        Assert.Equal(2, resent.QoS);
        Assert.Equal(original.PacketId, resent.PacketId);
        await resumed.SendAsync(MqttPackets.PubRec(resent.PacketId));
        Assert.Equal(resent.PacketId, (await resumed.ReadPacketAsync(PacketType.PubRel)).PacketId);
        await resumed.SendAsync(MqttPackets.PubComp(resent.PacketId));
        await resumed.AssertOpenAsync();
    }

    [Fact]
    public async Task MQTT_4_4_0_1_unanswered_pubrel_is_resent_and_the_publish_is_not()
    {
        var clientId = TestNames.ClientId("p");
        var topic = TestNames.Topic("pubrel");
        var first = await RawMqttClient.ConnectAcceptedAsync(_port, Persistent(clientId));
        await first.SubscribeAsync(topic, 2);
        await using (var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub")))
        {
            await publisher.PublishAsync(topic, "released", qos: 2);
        }

        var publish = await first.ReadPublishAsync();
        await first.SendAsync(MqttPackets.PubRec(publish.PacketId));
        Assert.Equal(publish.PacketId, (await first.ReadPacketAsync(PacketType.PubRel)).PacketId);
        first.Abort(); // no PUBCOMP
        await first.DisposeAsync();

        await using var resumed = await RawMqttClient.ConnectAcceptedAsync(_port, Persistent(clientId));
        var pubRel = await resumed.ReadPacketAsync();

        // The message itself was already received (PUBREC sent): only the PUBREL is re-sent.
        Assert.Equal(PacketType.PubRel, pubRel.Type);
        Assert.Equal(0x62, pubRel.Header);
        Assert.Equal(publish.PacketId, pubRel.PacketId);
        await resumed.SendAsync(MqttPackets.PubComp(publish.PacketId));
        await resumed.AssertOpenAsync();
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_3_1_2_4_mqttnet_persistent_session_receives_messages_sent_while_offline(MqttVersion version)
    {
        var clientId = TestNames.ClientId("net");
        var topic = TestNames.Topic("net");
        await using (var first = await MqttNetClient.ConnectAsync(_port, clientId, version, cleanSession: false))
        {
            Assert.False(first.ConnectResult.IsSessionPresent);
            await first.SubscribeAsync(topic, 1);
            await first.DisconnectAsync();
        }

        await PahoClient.PublishAsync(_port, topic, ["a", "b", "c"], qos: 1, version: version);

        await using var resumed = await MqttNetClient.ConnectAsync(_port, clientId, version, cleanSession: false);
        if (version == MqttVersion.V311)
        {
            Assert.True(resumed.ConnectResult.IsSessionPresent);
        }

        Assert.Equal(["a", "b", "c"], (await resumed.NextMessagesAsync(3)).Select(m => m.Payload));
    }

    [Fact]
    public async Task MQTT_3_1_2_4_paho_and_mosquitto_sub_persistent_sessions()
    {
        var topic = TestNames.Topic("cli");
        var pahoId = TestNames.ClientId("paho");
        var subId = TestNames.ClientId("msub");
        await using (var paho = await PahoClient.SubscribeAsync(_port, topic, qos: 1, count: 0, clientId: pahoId, cleanSession: false))
        {
            Assert.False(paho.ConnAck.SessionPresent);
            await paho.WaitForExitAsync();
        }

        await using (var sub = await MosquittoClients.SubscribeAsync(_port, topic, qos: 1, count: null, clientId: subId, cleanSession: false, extra: ["-E"]))
        {
            await sub.WaitForExitAsync(); // -E: exits after SUBACK, leaving the session behind
        }

        await MosquittoClients.PublishAsync(_port, topic, "while you were away", qos: 1);

        await using var pahoAgain = await PahoClient.SubscribeAsync(_port, topic, qos: 1, count: 1, clientId: pahoId, cleanSession: false);
        Assert.True(pahoAgain.ConnAck.SessionPresent);
        Assert.Equal("while you were away", Assert.Single(await pahoAgain.WaitForExitAsync()).Payload);

        await using var subAgain = await MosquittoClients.SubscribeAsync(_port, topic, qos: 1, count: 1, clientId: subId, cleanSession: false);
        Assert.Equal("while you were away", Assert.Single(await subAgain.WaitForExitAsync()).Payload);
    }

    private static ConnectOptions Persistent(string clientId, MqttVersion version = MqttVersion.V311) =>
        new() { ClientId = clientId, CleanSession = false, Version = version };
}
