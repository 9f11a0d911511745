using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 5 §3.3.2.3.4 Topic Alias, both directions (§3.1.2.11.5, §3.2.2.3.8).</summary>
public sealed class V5TopicAliasTests(OutboundAliasBrokerFixture fixture) : IClassFixture<OutboundAliasBrokerFixture>
{
    private readonly int _port = fixture.Port;

    private static V5Props Alias(int alias) => new V5Props().UInt16(Prop.TopicAlias, alias);

    /// <summary>A client's view of the server's aliases: resolves every PUBLISH as a receiver must (§3.3.2.3.4).</summary>
    private sealed class AliasResolver(int maximum)
    {
        private readonly Dictionary<ushort, string> _aliases = [];

        public string Resolve(V5Publish publish)
        {
            if (publish.TopicAlias is not { } alias)
            {
                Assert.NotEqual("", publish.Topic);
                return publish.Topic;
            }

            // MQTT-3.3.2-8 / MQTT-3.1.2-26: never 0, never above what the client allowed.
            Assert.InRange(alias, 1, maximum);
            if (publish.Topic.Length > 0)
            {
                _aliases[alias] = publish.Topic;
                return publish.Topic;
            }

            Assert.True(_aliases.TryGetValue(alias, out var topic), $"The server used alias {alias} before telling what it stands for: {publish}");
            return topic;
        }
    }

    [Fact]
    public async Task Section_3_3_2_3_4_an_inbound_alias_stands_for_the_topic_it_was_sent_with()
    {
        var topic = TestNames.Topic("in");
        var other = TestNames.Topic("other");
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub")); // 3.1.1: sees plain topics
        await subscriber.SubscribeAsync((topic, 1), (other, 1));
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));

        await publisher.PublishV5Async(topic, "set", 1, props: Alias(1));
        await publisher.PublishV5Async("", "use", 1, props: Alias(1));
        await publisher.PublishV5Async(other, "remap", 1, props: Alias(1)); // a new topic for the same alias replaces the mapping
        await publisher.PublishV5Async("", "use again", 1, props: Alias(1));

        var received = new List<(string, string)>();
        for (var i = 0; i < 4; i++)
        {
            var p = await subscriber.ReceivePublishAsync();
            received.Add((p.Topic, p.PayloadText));
        }

        Assert.Equal([(topic, "set"), (topic, "use"), (other, "remap"), (other, "use again")], received);
    }

    [Fact]
    public async Task MQTT_3_3_2_8_topic_alias_0_gets_DISCONNECT_0x94()
    {
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("a0"));

        await client.SendIgnoringErrorsAsync(V5Packets.Publish(TestNames.Topic("a0"), "x", props: Alias(0)));

        // 0x94 Topic Alias invalid; mosquitto 2.0.11 calls it 0x81 Malformed Packet, which §4.13 leaves to the receiver's judgement.
        await client.ExpectDisconnectAsync(BrokerProcess.IsMosquitto ? (byte)0x81 : (byte)0x94);
    }

    [Fact]
    public async Task MQTT_3_3_2_9_an_alias_above_the_servers_topic_alias_maximum_gets_DISCONNECT_0x94()
    {
        var (client, connAck) = await V5Client.ConnectAsync(_port, new V5Connect { ClientId = TestNames.ClientId("amax") });
        await using var _ = client;
        var maximum = connAck.Properties.Get<ushort?>(Prop.TopicAliasMaximum) ?? 0;

        await client.SendIgnoringErrorsAsync(V5Packets.Publish(TestNames.Topic("amax"), "x", props: Alias(maximum + 1)));

        await client.ExpectDisconnectAsync(0x94);
    }

    [Fact]
    public async Task Section_3_3_2_3_4_an_alias_that_was_never_set_is_a_protocol_error()
    {
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("unk"));

        await client.SendIgnoringErrorsAsync(V5Packets.Publish("", "x", props: Alias(1)));

        await client.ExpectDisconnectAsync(0x82);
    }

    [Fact]
    public async Task Section_3_3_2_1_an_empty_topic_without_an_alias_is_a_protocol_error()
    {
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("empty"));

        await client.SendIgnoringErrorsAsync(V5Packets.Publish("", "x", qos: 1, packetId: 1));

        await client.ExpectDisconnectAsync(0x82);
    }

    [Fact]
    public async Task MQTT_3_3_2_7_aliases_belong_to_one_network_connection()
    {
        var id = TestNames.ClientId("conn");
        await using (var first = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = id, SessionExpiry = 60 }))
        {
            await first.PublishV5Async(TestNames.Topic("conn"), "set", 1, props: Alias(1));
            await first.DisconnectAndWaitForCloseAsync();
        }

        // The same client and session, a new connection: the mapping is gone (MQTT-3.3.2-7).
        await using var second = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = id, CleanStart = false, SessionExpiry = 60 });
        await second.SendIgnoringErrorsAsync(V5Packets.Publish("", "use", props: Alias(1)));

        await second.ExpectDisconnectAsync(0x82);
    }

    [SkippableFact]
    public async Task Section_3_3_2_3_4_outbound_the_server_sends_a_known_topic_as_an_empty_topic_with_its_alias()
    {
        V5Deviation.OptionalOnMosquitto("sending topic aliases to clients (a server MAY)");
        var topic = TestNames.Topic("out");
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = TestNames.ClientId("sub"), TopicAliasMaximum = 5 });
        await subscriber.SubscribeV5Async(topic);
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishV5Async(topic, "one", 1);
        await publisher.PublishV5Async(topic, "two", 1);

        var one = await subscriber.ReceiveV5Async();
        var two = await subscriber.ReceiveV5Async();

        Assert.Equal((topic, "one"), (one.Topic, one.PayloadText));
        Assert.NotNull(one.TopicAlias);
        Assert.Equal(("", "two", one.TopicAlias), (two.Topic, two.PayloadText, two.TopicAlias));
    }

    [Fact]
    public async Task MQTT_3_1_2_27_without_a_topic_alias_maximum_the_server_sends_no_aliases()
    {
        var topic = TestNames.Topic("none");
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeV5Async(topic);
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));

        for (var i = 0; i < 3; i++)
        {
            await publisher.PublishV5Async(topic, $"m{i}", 1);
        }

        for (var i = 0; i < 3; i++)
        {
            var p = await subscriber.ReceiveV5Async();
            Assert.Equal(topic, p.Topic);
            Assert.Null(p.TopicAlias);
        }
    }

    [Fact]
    public async Task MQTT_3_1_2_26_outbound_aliases_never_exceed_the_clients_maximum_and_always_resolve()
    {
        var topics = Enumerable.Range(0, 3).Select(i => TestNames.Topic($"t{i}")).ToArray();
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = TestNames.ClientId("sub"), TopicAliasMaximum = 1 });
        await subscriber.SubscribeV5Async(null, [.. topics.Select(t => (t, V5Packets.Options(1)))]);
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        string[] order = [topics[0], topics[1], topics[0], topics[2], topics[1], topics[0]];
        foreach (var t in order)
        {
            await publisher.PublishV5Async(t, t, 1);
        }

        var resolver = new AliasResolver(1);
        foreach (var expected in order)
        {
            var p = await subscriber.ReceiveV5Async();
            Assert.Equal(expected, resolver.Resolve(p));
            Assert.Equal(expected, p.PayloadText);
        }
    }

    [Fact]
    public async Task MQTT_3_1_2_25_a_message_dropped_as_too_large_does_not_leave_its_alias_unannounced()
    {
        var topic = TestNames.Topic("drop");
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, new V5Connect
        {
            ClientId = TestNames.ClientId("sub"),
            TopicAliasMaximum = 5,
            MaximumPacketSize = 300,
        });
        await subscriber.SubscribeV5Async(topic);
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));

        await publisher.PublishV5Async(topic, new string('x', 1000), 1); // over the client's maximum: never sent
        await publisher.PublishV5Async(topic, "fits", 1);
        await publisher.PublishV5Async(topic, "fits too", 1);

        var resolver = new AliasResolver(5);
        var first = await subscriber.ReceiveV5Async();
        var second = await subscriber.ReceiveV5Async();
        Assert.Equal((topic, "fits"), (resolver.Resolve(first), first.PayloadText));
        Assert.Equal((topic, "fits too"), (resolver.Resolve(second), second.PayloadText));
    }
}
