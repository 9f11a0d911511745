using Cicada.Core.Sessions;
using Cicada.Core.Storage;
using Cicada.Core.Topics;

namespace Cicada.Core.Tests;

/// <summary>Session lifetime: clean/persistent sessions, takeover, wills and restart (MQTT-3.1.2, MQTT-3.1.4).</summary>
public class PersistentSessionTests
{
    private static readonly SubscriptionOptions Qos2 = new(QoS.ExactlyOnce);

    [Fact]
    public async Task MQTT_3_1_2_5_an_offline_persistent_session_keeps_QoS_1_and_2_messages_and_stores_them()
    {
        using var t = await TestBroker.StartAsync();
        var link = t.Connect("p", cleanSession: false).Link;
        await t.Broker.SubscribeAsync(link, "a/#", Qos2);
        t.Broker.Disconnect(link, publishWill: false);

        await t.PublishAsync("a/0", "q0", QoS.AtMostOnce);
        await t.PublishAsync("a/1", "q1", QoS.AtLeastOnce);
        await t.PublishAsync("a/2", "q2", QoS.ExactlyOnce);

        Assert.True(t.Broker.TryGetSession("p", out var session));
        Assert.Equal(2, session!.PendingCount);
        var queue = await t.Store.LoadQueueAsync("p", CancellationToken.None);
        Assert.Equal([("a/1", QoS.AtLeastOnce, DeliveryState.Queued), ("a/2", QoS.ExactlyOnce, DeliveryState.Queued)],
            queue.Select(r => (r.Message.Topic, r.Qos, r.State)));
        Assert.True(queue[0].Seq < queue[1].Seq);

        // Reconnecting resumes the session with its queue (MQTT-3.1.2-4, MQTT-3.2.2-2).
        var again = t.Connect("p", cleanSession: false);
        Assert.True(again.SessionPresent);
        Assert.Same(session, again.Link.Session);
        Assert.Equal(["q1", "q2"], session.Drain().Select(d => d.Delivery.Text()));
    }

    [Fact]
    public async Task Stored_entries_use_the_granted_QoS_and_are_shared_across_sessions()
    {
        using var t = await TestBroker.StartAsync();
        var p1 = t.Connect("p1", cleanSession: false).Link;
        var p2 = t.Connect("p2", cleanSession: false).Link;
        await t.Broker.SubscribeAsync(p1, "a", new SubscriptionOptions(QoS.AtLeastOnce));
        await t.Broker.SubscribeAsync(p2, "a", Qos2);

        await t.PublishAsync("a", "m", QoS.ExactlyOnce);

        var e1 = Assert.Single(await t.Store.LoadQueueAsync("p1", CancellationToken.None));
        var e2 = Assert.Single(await t.Store.LoadQueueAsync("p2", CancellationToken.None));
        Assert.Equal(QoS.AtLeastOnce, e1.Qos);
        Assert.Equal(QoS.ExactlyOnce, e2.Qos);
        Assert.Same(e1.Message, e2.Message); // the payload is stored once
        Assert.NotEqual(0, e1.Message.StoreId);
    }

    [Fact]
    public async Task An_acknowledged_delivery_leaves_the_store()
    {
        using var t = await TestBroker.StartAsync();
        var link = t.Connect("p", cleanSession: false).Link;
        await t.Broker.SubscribeAsync(link, "a", Qos2);
        await t.PublishAsync("a", "m", QoS.AtLeastOnce);

        var (_, id) = Assert.Single(link.Session.Drain());
        var sent = Assert.Single(await t.Store.LoadQueueAsync("p", CancellationToken.None));
        Assert.Equal((id, DeliveryState.Sent), (sent.PacketId, sent.State));

        Assert.True(link.Session.Complete(id));
        Assert.Empty(await t.Store.LoadQueueAsync("p", CancellationToken.None));
    }

    [Fact]
    public async Task MQTT_3_1_2_6_a_clean_session_ends_with_its_connection()
    {
        using var t = await TestBroker.StartAsync();
        var link = t.Connect("c", cleanSession: true).Link;
        await t.Broker.SubscribeAsync(link, "a", Qos2);
        t.Broker.Disconnect(link, publishWill: false);

        Assert.False(t.Broker.TryGetSession("c", out _));
        Assert.Equal(0, t.Broker.Subscriptions.Count);
        await t.PublishAsync("a", "m", QoS.AtLeastOnce);
        Assert.Empty(link.Session.Drain());
        Assert.Empty(await t.Store.LoadSessionsAsync(CancellationToken.None)); // never stored

        var again = t.Connect("c", cleanSession: false);
        Assert.False(again.SessionPresent); // MQTT-3.2.2-3: no session was there
        Assert.Empty(again.Link.Session.Subscriptions);
    }

    [Fact]
    public async Task MQTT_3_1_2_6_clean_session_discards_a_stored_persistent_session()
    {
        using var t = await TestBroker.StartAsync();
        var link = t.Connect("p", cleanSession: false).Link;
        await t.Broker.SubscribeAsync(link, "a", Qos2);
        t.Broker.Disconnect(link, publishWill: false);
        await t.PublishAsync("a", "queued", QoS.AtLeastOnce);

        var clean = t.Connect("p", cleanSession: true);

        Assert.False(clean.SessionPresent); // MQTT-3.2.2-1
        Assert.NotSame(link.Session, clean.Link.Session);
        Assert.Empty(clean.Link.Session.Drain());
        Assert.Equal(0, t.Broker.Subscriptions.Count);
        Assert.Empty(await t.Store.LoadSessionsAsync(CancellationToken.None));
        Assert.Empty(await t.Store.LoadQueueAsync("p", CancellationToken.None));

        // The clean session is not persistent either: it is gone after its connection.
        t.Broker.Disconnect(clean.Link, publishWill: false);
        Assert.False(t.Broker.TryGetSession("p", out _));
    }

    [Fact]
    public async Task MQTT_3_2_2_2_session_present_when_a_persistent_session_resumes()
    {
        using var t = await TestBroker.StartAsync();
        var first = t.Connect("p", cleanSession: false);
        Assert.False(first.SessionPresent); // MQTT-3.2.2-3
        await t.Broker.SubscribeAsync(first.Link, "a/+", Qos2);
        t.Broker.Disconnect(first.Link, publishWill: false);

        var stored = Assert.Single(await t.Store.LoadSessionsAsync(CancellationToken.None));
        Assert.Equal("a/+", Assert.Single(stored.Subscriptions).Filter);
        Assert.NotNull(stored.DisconnectedAt);

        var second = t.Connect("p", cleanSession: false);
        Assert.True(second.SessionPresent);
        Assert.True(second.Link.Session.Subscriptions.ContainsKey("a/+"));

        // The stored header mirrors the resumed session: connected again, so no disconnect time.
        Assert.Null(Assert.Single(await t.Store.LoadSessionsAsync(CancellationToken.None)).DisconnectedAt);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task MQTT_3_1_4_2_a_second_connection_with_the_same_id_closes_the_first(bool cleanSession)
    {
        using var t = await TestBroker.StartAsync();
        var oldConnection = new FakeConnection();
        var oldLink = t.Connect("dup", cleanSession, oldConnection).Link;
        await t.Broker.SubscribeAsync(oldLink, "a", Qos2);

        var newConnection = new FakeConnection();
        var result = t.Connect("dup", cleanSession, newConnection);
        var newLink = result.Link;
        if (cleanSession)
        {
            await t.Broker.SubscribeAsync(newLink, "a", Qos2);
        }

        Assert.Equal([CloseReason.SessionTakenOver], oldConnection.Closes);
        Assert.Empty(newConnection.Closes);
        Assert.Equal(!cleanSession, result.SessionPresent);

        // The old connection's edge reports its end afterwards: the new connection stays attached.
        t.Broker.Disconnect(oldLink, publishWill: false);
        Assert.True(t.Broker.TryGetSession("dup", out var session));
        Assert.Same(newLink.Session, session);
        Assert.Same(newLink, session!.Link);
        Assert.Equal(1, t.Broker.Subscriptions.Count);

        await t.PublishAsync("a", "m", QoS.AtLeastOnce);
        Assert.Equal(1, newConnection.PendingCalls);
        Assert.Equal(0, oldConnection.PendingCalls);
        Assert.Single(session.Drain());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task MQTT_3_1_4_2_a_taken_over_connection_can_no_longer_subscribe_for_the_session(bool cleanSession)
    {
        using var t = await TestBroker.StartAsync();
        var oldLink = t.Connect("dup", cleanSession).Link;
        var newLink = t.Connect("dup", cleanSession).Link;

        // A SUBSCRIBE the old connection was still processing when it was closed.
        await t.Broker.SubscribeAsync(oldLink, "late", Qos2);
        t.Broker.Disconnect(oldLink, publishWill: false);

        Assert.Equal(0, t.Broker.Subscriptions.Count);
        Assert.Empty(newLink.Session.Subscriptions);
        var stored = await t.Store.LoadSessionsAsync(CancellationToken.None);
        Assert.All(stored, s => Assert.Empty(s.Subscriptions));

        await t.Broker.SubscribeAsync(newLink, "late", Qos2);
        Assert.Equal(1, t.Broker.Subscriptions.Count);
    }

    [Fact]
    public async Task MQTT_3_1_2_8_the_will_is_published_when_the_connection_ends_abnormally()
    {
        using var t = await TestBroker.StartAsync();
        var watcher = await t.SubscribeAsync("watcher", "status/#", QoS.AtLeastOnce);
        var will = new Will(TestBroker.Message("status/dev", "offline", QoS.AtLeastOnce, retain: true, origin: "dev"));
        var link = t.Connect("dev", cleanSession: true, will: will).Link;

        t.Broker.Disconnect(link, publishWill: true);
        await WaitUntil(() => watcher.Session.PendingCount > 0);

        var delivery = Assert.Single(watcher.Session.Drain()).Delivery;
        Assert.Equal(("status/dev", "offline"), (delivery.Message.Topic, delivery.Text()));
        Assert.NotNull(t.Broker.Retained.Get("status/dev")); // MQTT-3.1.2-17: will retain honoured
        Assert.Null(link.Will); // MQTT-3.1.2-10: removed once published
    }

    [Fact]
    public async Task MQTT_3_14_4_3_no_will_after_a_normal_disconnect()
    {
        using var t = await TestBroker.StartAsync();
        var watcher = await t.SubscribeAsync("watcher", "status/#", QoS.AtLeastOnce);
        var will = new Will(TestBroker.Message("status/dev", "offline", QoS.AtLeastOnce, retain: true));
        var link = t.Connect("dev", cleanSession: true, will: will).Link;

        t.Broker.Disconnect(link, publishWill: false);
        t.Broker.Disconnect(link, publishWill: true); // a late second report must not resurrect it

        await t.PublishAsync("status/probe", "p"); // routed after any will would have been
        Assert.Equal(["p"], watcher.Session.Drain().Select(d => d.Delivery.Text()));
        Assert.Null(t.Broker.Retained.Get("status/dev"));
    }

    [Fact]
    public async Task LoadAsync_restores_sessions_subscriptions_queues_received_ids_and_retained_messages()
    {
        var store = new MemoryBrokerStore();
        await store.SaveSessionAsync("p", uint.MaxValue, DateTimeOffset.UtcNow.AddMinutes(-5));
        await store.AddSubscriptionAsync("p", new SubscriptionRecord("home/#", new SubscriptionOptions(QoS.AtLeastOnce)));
        await store.AddSubscriptionAsync("p", new SubscriptionRecord("$SYS/+", Qos2));
        var m1 = TestBroker.Message("home/a", "1", QoS.AtLeastOnce);
        var m2 = TestBroker.Message("home/b", "2", QoS.ExactlyOnce);
        await store.EnqueueAsync(m1, [new QueueTarget("p", 4, QoS.AtLeastOnce)]);
        await store.EnqueueAsync(m2, [new QueueTarget("p", 6, QoS.ExactlyOnce)]);
        await store.UpdateDeliveryAsync("p", 4, packetId: 12, DeliveryState.Sent);
        await store.AddReceivedIdAsync("p", 99);
        await store.SetRetainedAsync(TestBroker.Message("home/a", "r", QoS.AtLeastOnce, retain: true));

        using var t = await TestBroker.StartAsync(store);

        Assert.True(t.Broker.TryGetSession("p", out var session));
        Assert.True(session!.IsPersistent);
        Assert.Null(session.Link);
        Assert.Equal(["$SYS/+", "home/#"], session.Subscriptions.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(2, t.Broker.Subscriptions.Count);
        Assert.Equal((12, 4L), (Assert.Single(session.InflightSnapshot()).Id, session.InflightSnapshot()[0].Delivery.Seq));
        Assert.Equal(1, session.PendingCount);
        Assert.False(session.TryAddReceivedId(99, out _));
        Assert.NotNull(t.Broker.Retained.Get("home/a"));

        // Routing reaches the restored subscription, and new queue positions follow the stored ones.
        await t.PublishAsync("home/c", "3", QoS.AtLeastOnce);
        var queue = await t.Store.LoadQueueAsync("p", CancellationToken.None);
        Assert.Equal([4L, 6L, 7L], queue.Select(r => r.Seq));

        var resumed = t.Connect("p", cleanSession: false);
        Assert.True(resumed.SessionPresent);
        Assert.Same(session, resumed.Link.Session);
    }

    [Fact]
    public async Task A_persistent_session_survives_a_broker_restart_on_the_same_store()
    {
        var store = new MemoryBrokerStore();
        using (var first = await TestBroker.StartAsync(store))
        {
            var link = first.Connect("p", cleanSession: false).Link;
            await first.Broker.SubscribeAsync(link, "a", Qos2);
            first.Broker.Disconnect(link, publishWill: false);
            await first.PublishAsync("a", "while away", QoS.ExactlyOnce);
            await first.PublishAsync("a", "lost (QoS 0)", QoS.AtMostOnce);
        }

        using var second = await TestBroker.StartAsync(store);
        var resumed = second.Connect("p", cleanSession: false);
        Assert.True(resumed.SessionPresent);
        var (delivery, id) = Assert.Single(resumed.Link.Session.Drain());
        Assert.Equal(("while away", QoS.ExactlyOnce), (delivery.Text(), delivery.Qos));
        Assert.NotEqual(0, id);
    }

    [Fact]
    public async Task MQTT_4_4_0_1_a_stored_delivery_keeps_its_packet_id_across_a_crash_that_lost_the_sent_state()
    {
        var store = new MemoryBrokerStore();
        int[] before;
        using (var first = await TestBroker.StartAsync(store))
        {
            var link = first.Connect("p", cleanSession: false).Link;
            await first.Broker.SubscribeAsync(link, "a", Qos2);
            await first.PublishAsync("a", "done", QoS.AtLeastOnce);
            Assert.All(link.Session.Drain(), d => Assert.True(link.Session.Complete(d.Id)));
            for (var i = 0; i < 3; i++)
            {
                await first.PublishAsync("a", $"m{i}", QoS.ExactlyOnce);
            }

            before = link.Session.Drain().Select(d => d.Id).ToArray();
        }

        // The crash came before the "sent with id" writes were durable: the store shows them queued.
        foreach (var record in await store.LoadQueueAsync("p", CancellationToken.None))
        {
            await store.UpdateDeliveryAsync("p", record.Seq, 0, DeliveryState.Queued);
        }

        using var second = await TestBroker.StartAsync(store);
        var resumed = second.Connect("p", cleanSession: false);
        var after = resumed.Link.Session.Drain();
        Assert.Equal(["m0", "m1", "m2"], after.Select(d => d.Delivery.Text()));
        Assert.Equal(before, after.Select(d => d.Id));
    }

    [Fact]
    public async Task MQTT_2_3_1_2_a_stored_delivery_waits_while_its_id_is_held_by_an_older_one_in_flight()
    {
        using var t = await TestBroker.StartAsync();
        var link = t.Connect("p", cleanSession: false).Link;
        await t.Broker.SubscribeAsync(link, "a", Qos2);
        var session = link.Session;
        await t.PublishAsync("a", "old", QoS.ExactlyOnce);
        Assert.True(session.TryTakeNext(10, DateTimeOffset.UtcNow, out _, out var held));

        // Advance the queue position 65,535 past "old", so the next stored delivery maps to the held id.
        for (var i = 1; i < 65_535; i++)
        {
            session.NextSeq();
        }

        await t.PublishAsync("a", "new", QoS.ExactlyOnce);
        Assert.False(session.TryTakeNext(10, DateTimeOffset.UtcNow, out _, out _));
        Assert.True(session.Complete(held));
        Assert.True(session.TryTakeNext(10, DateTimeOffset.UtcNow, out var next, out var id));
        Assert.Equal(("new", held), (next.Text(), id));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        // The will is published fire-and-forget; with the in-memory store it is synchronous, but
        // the contract does not promise that.
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }
}
