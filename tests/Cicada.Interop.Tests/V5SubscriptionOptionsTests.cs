using System.Text.Json.Nodes;
using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 5 §3.8.3.1 subscription options, §3.8.2.1.2 subscription identifiers, §3.9.3 SUBACK and §3.11.3 UNSUBACK reason codes.</summary>
public sealed class V5SubscriptionOptionsTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    private async Task PublishAsync(string topic, string payload, bool retain = false)
    {
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishV5Async(topic, payload, qos: 1, retain: retain);
    }

    [Fact]
    public async Task MQTT_3_8_3_3_no_local_keeps_a_clients_own_publishes_from_it()
    {
        var topic = TestNames.Topic("nl");
        var sentinel = TestNames.Topic("sentinel");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("nl"));
        await client.SubscribeV5Async(null, (topic, V5Packets.Options(1, noLocal: true)), (sentinel, V5Packets.Options(1)));

        await client.PublishV5Async(topic, "mine", 1);
        await PublishAsync(topic, "theirs");
        await client.PublishV5Async(sentinel, "end", 1);

        Assert.Equal(["theirs"], (await client.ReceiveV5UntilAsync(sentinel)).Select(p => p.PayloadText));
    }

    [Fact]
    public async Task Section_3_8_3_1_without_no_local_a_client_gets_its_own_publishes()
    {
        var topic = TestNames.Topic("own");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("own"));
        await client.SubscribeV5Async(topic);

        await client.PublishV5Async(topic, "mine", 1);

        Assert.Equal("mine", (await client.ReceiveV5Async()).PayloadText);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public async Task MQTT_3_3_1_12_and_13_retain_as_published_decides_the_retain_flag_of_live_messages(bool retainAsPublished, bool expected)
    {
        var topic = TestNames.Topic("rap");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("rap"));
        await client.SubscribeV5Async(null, (topic, V5Packets.Options(1, retainAsPublished: retainAsPublished)));

        await PublishAsync(topic, "live and retained", retain: true);

        var publish = await client.ReceiveV5Async();
        Assert.Equal(expected, publish.Retain);
        await PublishAsync(topic, ""); // clear the retained message
    }

    [Theory]
    [InlineData(0, 2)] // MQTT-3.3.1-9: sent at every subscribe
    [InlineData(1, 1)] // MQTT-3.3.1-10: only if the subscription did not exist
    [InlineData(2, 0)] // MQTT-3.3.1-11: never
    public async Task MQTT_3_3_1_9_to_11_retain_handling_decides_when_retained_messages_are_sent(int retainHandling, int expected)
    {
        var topic = TestNames.Topic("rh");
        var sentinel = TestNames.Topic("sentinel");
        await PublishAsync(topic, "kept", retain: true);
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("rh"));
        await client.SubscribeV5Async(sentinel);

        await client.SubscribeV5Async(null, (topic, V5Packets.Options(1, retainHandling: retainHandling)));
        await client.SubscribeV5Async(null, (topic, V5Packets.Options(1, retainHandling: retainHandling)));
        await PublishAsync(sentinel, "end");

        var retained = await client.ReceiveV5UntilAsync(sentinel);
        Assert.Equal(expected, retained.Count);
        Assert.All(retained, p => Assert.True(p.Retain)); // MQTT-3.3.1-8
    }

    [Fact]
    public async Task MQTT_3_3_4_3_a_delivery_carries_its_subscriptions_identifier()
    {
        var topic = TestNames.Topic("sid");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("sid"));
        await client.SubscribeV5Async(topic, 1, subscriptionId: 268_435_455);

        await PublishAsync(topic, "x");

        Assert.Equal([268_435_455], (await client.ReceiveV5Async()).SubscriptionIds);
    }

    [Fact]
    public async Task MQTT_3_3_4_4_overlapping_subscriptions_deliver_every_matching_identifier()
    {
        var root = TestNames.Topic("ov");
        var sentinel = TestNames.Topic("sentinel");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("ov"));
        await client.SubscribeV5Async(root + "/+", 1, subscriptionId: 1);
        await client.SubscribeV5Async(root + "/#", 1, subscriptionId: 2);
        await client.SubscribeV5Async(sentinel);

        await PublishAsync(root + "/x", "both");
        await PublishAsync(sentinel, "end");

        // One copy with both identifiers (MQTT-3.3.4-5) or one copy per subscription, each with its own (MQTT-3.3.4-4).
        var copies = await client.ReceiveV5UntilAsync(sentinel);
        Assert.Equal([1, 2], copies.SelectMany(p => p.SubscriptionIds).Order());
        if (!BrokerProcess.IsMosquitto)
        {
            Assert.Single(copies);
        }
    }

    [Fact]
    public async Task Section_3_8_2_1_2_resubscribing_without_an_identifier_removes_it()
    {
        var topic = TestNames.Topic("re");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("re"));
        await client.SubscribeV5Async(topic, 1, subscriptionId: 5);
        await client.SubscribeV5Async(topic, 1);

        await PublishAsync(topic, "x");

        Assert.Empty((await client.ReceiveV5Async()).SubscriptionIds);
    }

    [Fact]
    public async Task MQTT_3_8_4_6_the_granted_QoS_caps_the_delivery()
    {
        var topic = TestNames.Topic("qos");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("qos"));
        Assert.Equal([0x00], await client.SubscribeV5Async(topic, 0));

        await PublishAsync(topic, "x");

        Assert.Equal(0, (await client.ReceiveV5Async()).QoS);
    }

    [SkippableFact]
    public async Task Section_3_9_3_an_invalid_filter_gets_0x8F_and_the_connection_stays()
    {
        // §4.13 would also let a server close the connection for a filter that breaks MQTT-4.7.1-1 (mosquitto does);
        // Cicada answers 0x8F for that filter and serves the others.
        KnownDeviation.CicadaOnly("mosquitto closes the connection for an invalid filter, which §4.13 also allows");
        var good = TestNames.Topic("good");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("bad"));

        var codes = await client.SubscribeV5Async(null, (good, V5Packets.Options(1)), (TestNames.Topic("a") + "/#/b", V5Packets.Options(1)), ("x+", V5Packets.Options(0)));

        Assert.Equal([0x01, 0x8F, 0x8F], codes);
        await client.AssertOpenAsync();
        await PublishAsync(good, "still subscribed");
        Assert.Equal("still subscribed", (await client.ReceiveV5Async()).PayloadText);
    }

    [Fact]
    public async Task Section_3_11_3_UNSUBACK_says_0x11_for_a_filter_that_was_not_subscribed()
    {
        var topic = TestNames.Topic("un");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("un"));
        await client.SubscribeV5Async(topic);
        var id = client.NextPacketId();

        await client.SendAsync(V5Packets.Unsubscribe(id, topic, TestNames.Topic("never")));
        var unsubAck = await client.ReadPacketAsync(PacketType.UnsubAck);

        Assert.Equal(id, unsubAck.PacketId);
        Assert.Equal([0x00, 0x11], unsubAck.V5ReasonCodes());
    }

    [SkippableFact]
    public async Task Section_3_11_3_UNSUBACK_says_0x8F_for_an_invalid_filter_and_the_connection_stays()
    {
        KnownDeviation.CicadaOnly("mosquitto closes the connection for an invalid filter, which §4.13 also allows");
        var topic = TestNames.Topic("unbad");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("unbad"));
        await client.SubscribeV5Async(topic);
        var id = client.NextPacketId();

        await client.SendAsync(V5Packets.Unsubscribe(id, topic + "/#/b", topic, "$share/g+/x", "a+"));
        var unsubAck = await client.ReadPacketAsync(PacketType.UnsubAck);

        Assert.Equal(id, unsubAck.PacketId);
        Assert.Equal([0x8F, 0x00, 0x8F, 0x8F], unsubAck.V5ReasonCodes()); // MQTT-3.11.3-1: in request order
        await client.AssertOpenAsync();
    }

    [Fact]
    public async Task Section_3_8_3_1_paho_no_local_retain_handling_and_subscription_identifier()
    {
        var topic = TestNames.Topic("paho");
        var other = TestNames.Topic("other");
        await PublishAsync(other, "retained", retain: true);

        var result = await PahoV5Client.RunAsync(_port, new JsonObject
        {
            ["id"] = TestNames.ClientId("paho"),
            ["subs"] = new JsonArray(
                new JsonObject { ["topic"] = topic, ["qos"] = 1, ["no_local"] = true, ["sub_id"] = 42 },
                new JsonObject { ["topic"] = other, ["qos"] = 1, ["rh"] = 2 }),
            ["pubs"] = new JsonArray(
                new JsonObject { ["topic"] = topic, ["payload"] = "to myself", ["qos"] = 1 },
                new JsonObject { ["topic"] = other, ["payload"] = "live", ["qos"] = 1 }),
            ["count"] = 1,
        });

        Assert.Equal([1, 1], result.SubAckReasons);
        var message = Assert.Single(result.Messages); // not its own (No Local), not the retained one (Retain Handling 2)
        Assert.Equal(("live", 0), ((string?)message["payload"], (int)message["retain"]!));
        await PublishAsync(other, "", retain: true);
    }

    [Fact]
    public async Task MQTT_3_3_4_3_paho_receives_the_subscription_identifier()
    {
        var topic = TestNames.Topic("pid");
        await using var paho = await PahoV5Client.StartAsync(_port, new JsonObject
        {
            ["id"] = TestNames.ClientId("paho"),
            ["subs"] = new JsonArray(new JsonObject { ["topic"] = topic, ["qos"] = 1, ["sub_id"] = 300 }),
            ["count"] = 1,
        });

        await PublishAsync(topic, "x");

        var message = Assert.Single((await paho.WaitAsync()).Messages);
        Assert.Equal([300], message["props"]!["SubscriptionIdentifier"]!.AsArray().Select(n => (int)n!));
    }
}
