using Cicada.Core.Sessions;
using Cicada.Core.Topics;

namespace Cicada.Core.Tests;

/// <summary>Routing, QoS, retained messages and fan-out through <see cref="Broker"/> (MQTT-3.3, MQTT-3.8.4).</summary>
public class BrokerRoutingTests
{
    private static ClientLink Online(TestBroker t, string clientId, out FakeConnection connection, bool cleanSession = true)
    {
        connection = new FakeConnection();
        return t.Connect(clientId, cleanSession, connection).Link;
    }

    [Fact]
    public async Task MQTT5_3_4_2_1_publish_tells_whether_any_subscription_matched()
    {
        using var t = await TestBroker.StartAsync();
        var link = Online(t, "sub", out _);
        await t.Broker.SubscribeAsync(link, "a/+", new SubscriptionOptions(QoS.AtLeastOnce));

        await t.Broker.PublishAsync(new Message("a/b", "m"u8.ToArray(), QoS.AtLeastOnce, retain: false), out var matched);
        Assert.True(matched);

        await t.Broker.PublishAsync(new Message("b/a", "m"u8.ToArray(), QoS.AtLeastOnce, retain: true), out matched);
        Assert.False(matched);

        var publisher = Online(t, "pub", out _);
        publisher.Session.TryAddReceivedId(1);
        await t.Broker.PublishExactlyOnceAsync(new Message("a/c", "m"u8.ToArray(), QoS.ExactlyOnce, retain: false), publisher.Session, 1, out matched);
        Assert.True(matched);
    }

    [Theory]
    [InlineData(QoS.ExactlyOnce, QoS.AtMostOnce, QoS.AtMostOnce)]
    [InlineData(QoS.ExactlyOnce, QoS.AtLeastOnce, QoS.AtLeastOnce)]
    [InlineData(QoS.AtLeastOnce, QoS.AtMostOnce, QoS.AtMostOnce)]
    [InlineData(QoS.AtMostOnce, QoS.ExactlyOnce, QoS.AtMostOnce)]
    [InlineData(QoS.AtLeastOnce, QoS.ExactlyOnce, QoS.AtLeastOnce)]
    [InlineData(QoS.ExactlyOnce, QoS.ExactlyOnce, QoS.ExactlyOnce)]
    public async Task MQTT_3_8_4_6_delivery_uses_the_minimum_of_published_and_granted_QoS(QoS published, QoS granted, QoS delivered)
    {
        using var t = await TestBroker.StartAsync();
        var link = Online(t, "sub", out _);
        await t.Broker.SubscribeAsync(link, "a/b", new SubscriptionOptions(granted));

        await t.PublishAsync("a/b", "m", published);

        var (delivery, id) = Assert.Single(link.Session.Drain());
        Assert.Equal(delivered, delivery.Qos);
        Assert.Equal(delivered == QoS.AtMostOnce, id == 0);
    }

    [Theory]
    [InlineData(QoS.AtMostOnce, QoS.AtLeastOnce, QoS.ExactlyOnce)]
    [InlineData(QoS.AtMostOnce, QoS.ExactlyOnce, QoS.AtLeastOnce)]
    [InlineData(QoS.AtLeastOnce, QoS.AtMostOnce, QoS.ExactlyOnce)]
    [InlineData(QoS.AtLeastOnce, QoS.ExactlyOnce, QoS.AtMostOnce)]
    [InlineData(QoS.ExactlyOnce, QoS.AtMostOnce, QoS.AtLeastOnce)]
    [InlineData(QoS.ExactlyOnce, QoS.AtLeastOnce, QoS.AtMostOnce)]
    public async Task MQTT_3_3_5_1_overlapping_subscriptions_give_one_delivery_at_the_highest_QoS(QoS hash, QoS exact, QoS plus)
    {
        // Every assignment of QoS to the three filters, so the highest comes first, middle or last
        // in whatever order the tree reports matches.
        using var t = await TestBroker.StartAsync();
        var link = Online(t, "sub", out _);
        await t.Broker.SubscribeAsync(link, "a/#", new SubscriptionOptions(hash));
        await t.Broker.SubscribeAsync(link, "a/b", new SubscriptionOptions(exact));
        await t.Broker.SubscribeAsync(link, "a/+", new SubscriptionOptions(plus));

        await t.PublishAsync("a/b", "q2", QoS.ExactlyOnce);
        await t.PublishAsync("a/b", "q1", QoS.AtLeastOnce);
        await t.PublishAsync("a/c", "c", QoS.ExactlyOnce); // matched by "a/#" and "a/+" only

        var cQos = (QoS)Math.Max((byte)hash, (byte)plus);
        Assert.Equal(
            [("q2", QoS.ExactlyOnce), ("q1", QoS.AtLeastOnce), ("c", cQos)],
            link.Session.Drain().Select(d => (d.Delivery.Text(), d.Delivery.Qos)));
    }

    [Fact]
    public async Task Every_matching_session_gets_the_same_message_object()
    {
        using var t = await TestBroker.StartAsync();
        var links = new List<(ClientLink Link, FakeConnection Connection)>();
        foreach (var (id, filter) in new[] { ("s1", "home/#"), ("s2", "home/+/temp"), ("s3", "home/kitchen/temp"), ("s4", "garden/#") })
        {
            var link = Online(t, id, out var connection);
            await t.Broker.SubscribeAsync(link, filter, new SubscriptionOptions(QoS.AtLeastOnce));
            links.Add((link, connection));
        }

        var message = TestBroker.Message("home/kitchen/temp", "21.5", QoS.AtLeastOnce);
        await t.Broker.PublishAsync(message);

        // Fan-out by reference: one Message, no per-subscriber copies.
        foreach (var (link, connection) in links.Take(3))
        {
            Assert.Same(message, Assert.Single(link.Session.Drain()).Delivery.Message);
            Assert.Equal(1, connection.PendingCalls);
        }

        Assert.Empty(links[3].Link.Session.Drain());
        Assert.Equal(0, links[3].Connection.PendingCalls);
    }

    [Fact]
    public async Task MQTT_3_3_1_9_a_retained_publish_reaches_established_subscriptions_with_RETAIN_0()
    {
        using var t = await TestBroker.StartAsync();
        var link = Online(t, "sub", out _);
        await t.Broker.SubscribeAsync(link, "a", new SubscriptionOptions(QoS.AtLeastOnce));

        await t.PublishAsync("a", "r", QoS.AtLeastOnce, retain: true);

        Assert.False(Assert.Single(link.Session.Drain()).Delivery.Retain);
    }

    [Fact]
    public async Task MQTT5_3_8_3_retain_as_published_keeps_RETAIN_1()
    {
        using var t = await TestBroker.StartAsync();
        var link = Online(t, "sub", out _);
        await t.Broker.SubscribeAsync(link, "a", new SubscriptionOptions(QoS.AtLeastOnce, RetainAsPublished: true));

        await t.PublishAsync("a", "r", QoS.AtLeastOnce, retain: true);
        await t.PublishAsync("a", "n", QoS.AtLeastOnce, retain: false);

        Assert.Equal([true, false], link.Session.Drain().Select(d => d.Delivery.Retain));
    }

    [Fact]
    public async Task MQTT5_3_8_3_3_no_local_suppresses_the_publishers_own_messages()
    {
        using var t = await TestBroker.StartAsync();
        var link = Online(t, "me", out _);
        await t.Broker.SubscribeAsync(link, "a", new SubscriptionOptions(QoS.AtLeastOnce, NoLocal: true));

        await t.PublishAsync("a", "mine", origin: "me");
        await t.PublishAsync("a", "theirs", origin: "you");

        Assert.Equal(["theirs"], link.Session.Drain().Select(d => d.Delivery.Text()));
    }

    [Fact]
    public async Task MQTT_3_3_1_5_a_retained_message_is_stored_and_replaced_per_topic()
    {
        using var t = await TestBroker.StartAsync();
        await t.PublishAsync("a/b", "first", QoS.AtLeastOnce, retain: true);
        await t.PublishAsync("a/b", "second", QoS.AtMostOnce, retain: true); // MQTT-3.3.1-7: QoS 0 replaces too
        await t.PublishAsync("a/c", "other", QoS.AtMostOnce, retain: true);

        Assert.Equal("second", System.Text.Encoding.UTF8.GetString(t.Broker.Retained.Get("a/b")!.Payload.Span));
        Assert.Equal(2, t.Broker.Retained.Count);
        var stored = await t.Store.LoadRetainedAsync(CancellationToken.None);
        Assert.Equal(["a/b:second", "a/c:other"],
            stored.Select(m => $"{m.Topic}:{System.Text.Encoding.UTF8.GetString(m.Payload.Span)}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task MQTT_3_3_1_10_an_empty_retained_message_clears_the_topic_and_is_still_delivered()
    {
        using var t = await TestBroker.StartAsync();
        var link = Online(t, "sub", out _);
        await t.Broker.SubscribeAsync(link, "a", new SubscriptionOptions(QoS.AtLeastOnce));
        await t.PublishAsync("a", "value", QoS.AtLeastOnce, retain: true);

        await t.PublishAsync("a", "", QoS.AtLeastOnce, retain: true);

        Assert.Null(t.Broker.Retained.Get("a"));
        Assert.Empty(await t.Store.LoadRetainedAsync(CancellationToken.None)); // MQTT-3.3.1-11: not stored
        Assert.Equal(2, link.Session.Drain().Count);
    }

    [Fact]
    public async Task MQTT_3_3_1_12_a_non_retained_publish_leaves_the_retained_message_alone()
    {
        using var t = await TestBroker.StartAsync();
        await t.PublishAsync("a", "kept", retain: true);
        await t.PublishAsync("a", "passing", retain: false);
        await t.PublishAsync("a", "", retain: false);

        Assert.Equal("kept", System.Text.Encoding.UTF8.GetString(t.Broker.Retained.Get("a")!.Payload.Span));
        Assert.Single(await t.Store.LoadRetainedAsync(CancellationToken.None));
    }

    [Fact]
    public async Task MQTT_3_3_1_6_and_8_a_new_subscription_gets_matching_retained_messages_with_RETAIN_1()
    {
        using var t = await TestBroker.StartAsync();
        await t.PublishAsync("home/kitchen/temp", "21", QoS.ExactlyOnce, retain: true);
        await t.PublishAsync("home/hall/temp", "19", QoS.AtMostOnce, retain: true);
        await t.PublishAsync("home/hall/light", "on", QoS.ExactlyOnce, retain: true);
        await t.PublishAsync("$SYS/uptime", "1", QoS.ExactlyOnce, retain: true);

        var link = Online(t, "sub", out var connection);
        var options = new SubscriptionOptions(QoS.AtLeastOnce);
        await t.Broker.SubscribeAsync(link, "+/+/temp", options);
        t.Broker.DeliverRetained(link, "+/+/temp", options);

        var got = link.Session.Drain().Select(d => d.Delivery).OrderBy(d => d.Message.Topic, StringComparer.Ordinal).ToList();
        Assert.Equal(["home/hall/temp", "home/kitchen/temp"], got.Select(d => d.Message.Topic));
        Assert.All(got, d => Assert.True(d.Retain));
        Assert.Equal([QoS.AtMostOnce, QoS.AtLeastOnce], got.Select(d => d.Qos)); // min(published, granted)
        Assert.Equal(1, connection.PendingCalls);

        // MQTT-4.7.2-1 holds for retained messages too.
        t.Broker.DeliverRetained(link, "#", options);
        Assert.DoesNotContain(link.Session.Drain(), d => d.Delivery.Message.Topic.StartsWith('$'));
    }

    [Fact]
    public async Task Expired_retained_messages_are_not_delivered_to_new_subscriptions()
    {
        using var t = await TestBroker.StartAsync();
        await t.Broker.PublishAsync(TestBroker.Message("a", "old", retain: true, expiresAt: DateTimeOffset.UtcNow.AddSeconds(-1)));
        await t.Broker.PublishAsync(TestBroker.Message("b", "new", retain: true, expiresAt: DateTimeOffset.UtcNow.AddHours(1)));

        var link = Online(t, "sub", out _);
        t.Broker.DeliverRetained(link, "#", new SubscriptionOptions(QoS.AtMostOnce));

        Assert.Equal(["new"], link.Session.Drain().Select(d => d.Delivery.Text()));
    }

    [Fact]
    public async Task MQTT_3_8_4_3_subscribing_again_replaces_the_subscription_and_its_QoS()
    {
        using var t = await TestBroker.StartAsync();
        var link = Online(t, "sub", out _);
        await t.Broker.SubscribeAsync(link, "a", new SubscriptionOptions(QoS.AtMostOnce));
        await t.Broker.SubscribeAsync(link, "a", new SubscriptionOptions(QoS.ExactlyOnce));

        await t.PublishAsync("a", "m", QoS.ExactlyOnce);

        Assert.Equal(1, t.Broker.Subscriptions.Count);
        Assert.Equal(QoS.ExactlyOnce, Assert.Single(link.Session.Drain()).Delivery.Qos);
    }

    [Fact]
    public async Task MQTT_3_10_4_1_unsubscribe_stops_deliveries()
    {
        using var t = await TestBroker.StartAsync();
        var link = Online(t, "sub", out _);
        await t.Broker.SubscribeAsync(link, "a/#", new SubscriptionOptions(QoS.AtMostOnce));

        Assert.False(t.Broker.Unsubscribe(link, "a/+"));
        Assert.True(t.Broker.Unsubscribe(link, "a/#"));
        Assert.False(t.Broker.Unsubscribe(link, "a/#"));
        await t.PublishAsync("a/b", "m");

        Assert.Empty(link.Session.Drain());
        Assert.Equal(0, t.Broker.Subscriptions.Count);
        Assert.Empty(link.Session.Subscriptions);
    }

    [Fact]
    public async Task A_full_session_queue_drops_the_oldest_delivery()
    {
        using var t = await TestBroker.StartAsync(options: new BrokerOptions { MaxQueuedMessages = 2 });
        var link = Online(t, "slow", out _);
        await t.Broker.SubscribeAsync(link, "a", new SubscriptionOptions(QoS.AtLeastOnce));

        foreach (var p in new[] { "1", "2", "3", "4" })
        {
            await t.PublishAsync("a", p, QoS.AtLeastOnce);
        }

        Assert.Equal(2, link.Session.Dropped);
        Assert.Equal(["3", "4"], link.Session.Drain().Select(d => d.Delivery.Text()));
    }

    [Fact]
    public async Task Publishing_with_no_subscribers_delivers_nothing_and_wakes_no_one()
    {
        using var t = await TestBroker.StartAsync();
        var link = Online(t, "sub", out var connection);
        await t.Broker.SubscribeAsync(link, "x", new SubscriptionOptions(QoS.AtLeastOnce));

        await t.PublishAsync("y", "m", QoS.AtLeastOnce);

        Assert.Empty(link.Session.Drain());
        Assert.Equal(0, connection.PendingCalls);
    }
}
