using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>
/// MQTT 3.1.1 normative statements that bind a server and are not the subject of a feature class
/// of their own (the audit in docs/conformance-mqtt.md lists where every other one is tested).
/// </summary>
public sealed class NormativeStatementTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Fact]
    public async Task MQTT_3_1_2_7_a_retained_message_outlives_the_session_that_published_it()
    {
        var topic = TestNames.Topic("outlive");
        var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(topic, "kept", qos: 1, retain: true);
        await publisher.DisconnectAndWaitForCloseAsync(); // clean session: the session ends here
        await publisher.DisposeAsync();

        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeAsync(topic, 1);

        var retained = await subscriber.ReceivePublishAsync();
        Assert.Equal(("kept", true), (retained.PayloadText, retained.Retain));
    }

    [Fact]
    public async Task MQTT_3_14_1_1_a_DISCONNECT_with_reserved_flags_set_closes_and_the_will_is_published()
    {
        var willTopic = TestNames.Topic("will");
        await using var watcher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("watch"));
        await watcher.SubscribeAsync(willTopic, 1);
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, new ConnectOptions
        {
            ClientId = TestNames.ClientId("bad"),
            WillTopic = willTopic,
            WillPayload = "not a real DISCONNECT"u8.ToArray(),
        });

        await client.SendIgnoringErrorsAsync([0xE1, 0x00]);
        await client.ExpectClosedAsync();

        // Not a DISCONNECT in the sense of MQTT-3.14.4-3: a protocol violation, so MQTT-3.1.2-8 applies.
        Assert.Equal("not a real DISCONNECT", (await watcher.ReceivePublishAsync()).PayloadText);
    }

    [Fact]
    public async Task MQTT_3_1_4_5_packets_after_a_refused_CONNECT_are_not_processed()
    {
        var topic = TestNames.Topic("refused");
        await using var watcher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("watch"));
        await watcher.SubscribeAsync(topic, 1);
        await using var refused = await RawMqttClient.OpenAsync(_port);

        // An unsupported protocol level (CONNACK 0x01, MQTT-3.1.2-2) and a PUBLISH in the same write.
        var connect = MqttPackets.Connect(new ConnectOptions { ClientId = TestNames.ClientId("old"), ProtocolLevel = 6 });
        await refused.SendIgnoringErrorsAsync([.. connect, .. MqttPackets.Publish(topic, "must not be routed", qos: 1, packetId: 1)]);
        var packets = await refused.ExpectClosedAsync();

        Assert.Equal(0x01, Assert.Single(packets).ReturnCode); // no PUBACK either
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(topic, "sentinel", qos: 1);
        Assert.Equal("sentinel", (await watcher.ReceivePublishAsync()).PayloadText);
    }

    [Fact]
    public async Task MQTT_3_2_0_1_CONNACK_comes_first_even_when_packets_are_pipelined_behind_CONNECT()
    {
        var topic = TestNames.Topic("first");
        await using (var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub")))
        {
            await publisher.PublishAsync(topic, "retained", qos: 1, retain: true);
        }

        await using var client = await RawMqttClient.OpenAsync(_port);
        var connect = MqttPackets.Connect(new ConnectOptions { ClientId = TestNames.ClientId("pipe") });
        await client.SendAsync([.. connect, .. MqttPackets.Subscribe(1, (topic, 1)), .. MqttPackets.PingReq()]);

        Assert.Equal(PacketType.ConnAck, (await client.ReadPacketAsync()).Type);
        var subAck = await client.ReadPacketAsync();
        Assert.Equal((PacketType.SubAck, (ushort)1), (subAck.Type, subAck.PacketId)); // MQTT-3.8.4-1/2
        var next = new[] { await client.ReadPacketAsync(), await client.ReadPacketAsync() };
        Assert.Contains(next, p => p.Type == PacketType.Publish && p.PayloadText == "retained");
        Assert.Contains(next, p => p.Type == PacketType.PingResp);
    }

    [Fact]
    public async Task MQTT_3_8_4_4_and_3_9_3_1_and_3_9_3_2_SUBACK_has_one_code_per_filter_in_request_order()
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("order"));

        var subAck = await client.SubscribeAsync((TestNames.Topic("a"), 2), (TestNames.Topic("b") + "/#", 0), ("+/" + TestNames.Topic("c"), 1));

        Assert.Equal([2, 0, 1], subAck.SubAckReturnCodes);
    }

    [Fact]
    public async Task MQTT_3_10_4_6_one_UNSUBACK_for_several_filters_and_each_subscription_ends()
    {
        var a = TestNames.Topic("a");
        var b = TestNames.Topic("b");
        var sentinel = TestNames.Topic("sentinel");
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("unsub"));
        await client.SubscribeAsync((a, 1), (b + "/+", 1), (sentinel, 1));

        await client.SendAsync(MqttPackets.Unsubscribe(9, a, b + "/+", TestNames.Topic("never")));
        var unsubAck = await client.ReadPacketAsync(PacketType.UnsubAck);
        Assert.Equal((ushort)9, unsubAck.PacketId); // MQTT-3.10.4-4
        await client.AssertOpenAsync(); // the next packet is PINGRESP: there was one UNSUBACK only

        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(a, "a", qos: 1);
        await publisher.PublishAsync(b + "/x", "b", qos: 1);
        await publisher.PublishAsync(sentinel, "end", qos: 1);
        Assert.Empty(await client.ReceiveUntilAsync(sentinel));
    }

    [Fact]
    public async Task MQTT_4_7_3_4_topics_are_matched_without_Unicode_normalization()
    {
        var root = TestNames.Topic("norm");
        var composed = root + "/caf\u00e9"; // é as one code point
        var decomposed = root + "/cafe\u0301"; // e + combining acute: canonically equivalent, different bytes
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("norm"));
        await client.SubscribeAsync(composed, 1);

        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(decomposed, "decomposed", qos: 1);
        await publisher.PublishAsync(composed, "composed", qos: 1);

        var received = await client.ReceivePublishAsync();
        Assert.Equal(("composed", composed), (received.PayloadText, received.Topic));
    }

    [Fact]
    public async Task MQTT_2_3_1_4_in_flight_server_publishes_have_distinct_non_zero_packet_ids()
    {
        var topic = TestNames.Topic("ids");
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("ids"));
        await client.SubscribeAsync(topic, 2);
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        for (var i = 0; i < 4; i++)
        {
            await publisher.PublishAsync(topic, $"m{i}", qos: i % 2 + 1);
        }

        // None acknowledged: all four are in flight at once.
        var ids = new List<ushort>();
        for (var i = 0; i < 4; i++)
        {
            var publish = await client.ReadPublishAsync();
            Assert.Equal((i % 2 + 1, false), (publish.QoS, publish.Dup)); // MQTT-4.3.2-1 / MQTT-4.3.3-1: DUP 0 the first time
            ids.Add(publish.PacketId);
        }

        Assert.DoesNotContain((ushort)0, ids);
        Assert.Equal(4, ids.Distinct().Count());
    }

    [Fact]
    public async Task MQTT_3_3_4_1_and_3_6_4_1_every_QoS_gets_its_response_even_when_nobody_subscribes()
    {
        var topic = TestNames.Topic("nobody");
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("resp"));

        await client.SendAsync(MqttPackets.Publish(topic, "q1", qos: 1, packetId: 5));
        var pubAck = await client.ReadPacketAsync(PacketType.PubAck);
        await client.SendAsync(MqttPackets.Publish(topic, "q2", qos: 2, packetId: 6));
        var pubRec = await client.ReadPacketAsync(PacketType.PubRec);
        await client.SendAsync(MqttPackets.PubRel(6));
        var pubComp = await client.ReadPacketAsync(PacketType.PubComp);

        Assert.Equal(((ushort)5, (ushort)6, (ushort)6), (pubAck.PacketId, pubRec.PacketId, pubComp.PacketId)); // MQTT-2.3.1-6, MQTT-3.6.4-1
        Assert.Equal([2, 2, 2], new[] { pubAck.Body.Length, pubRec.Body.Length, pubComp.Body.Length });
    }

    [SkippableFact]
    public async Task MQTT_3_3_5_1_overlapping_subscriptions_deliver_at_the_highest_granted_QoS()
    {
        KnownDeviation.CicadaOnly("one copy per message is Cicada's choice; §3.3.5 also allows one per matching subscription");
        var root = TestNames.Topic("overlap");
        var sentinel = TestNames.Topic("sentinel");
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("overlap"));
        await client.SubscribeAsync((root + "/#", 2), (root + "/+", 1), (sentinel, 0));

        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(root + "/C", "overlapping topic filters", qos: 2);
        await publisher.PublishAsync(sentinel, "end");

        // paho's client_test accepts one copy at QoS 2 or one per subscription (QoS 2 and 1);
        // Cicada sends one, at the highest QoS of the matching subscriptions.
        var copy = Assert.Single(await client.ReceiveUntilAsync(sentinel));
        Assert.Equal(("overlapping topic filters", 2), (copy.PayloadText, copy.QoS));
    }
}
