using Cicada.Core.Sessions;
using Cicada.Core.Storage;

namespace Cicada.Core.Tests;

/// <summary>One session's queue, in-flight window and packet ids (MQTT-2.3.1, MQTT-4.3, MQTT-4.4).</summary>
public class SessionTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private static Session NewSession(bool persistent = false, int maxQueued = 100_000, IBrokerStore? store = null) =>
        new("client", persistent ? uint.MaxValue : 0, store ?? new MemoryBrokerStore(), maxQueued);

    private static Delivery D(string payload, QoS qos = QoS.AtLeastOnce, long seq = 0, DateTimeOffset? expiresAt = null) =>
        new(TestBroker.Message("t", payload, qos, expiresAt: expiresAt), qos, false, seq);

    private static int Take(Session session, int maxInflight = int.MaxValue)
    {
        Assert.True(session.TryTakeNext(maxInflight, Now, out _, out var id));
        return id;
    }

    [Fact]
    public void MQTT_2_3_1_2_packet_ids_are_non_zero_and_unique_among_in_flight_deliveries()
    {
        var session = NewSession();
        for (var i = 0; i < 5000; i++)
        {
            session.Enqueue(D("m", i % 2 == 0 ? QoS.AtLeastOnce : QoS.ExactlyOnce));
        }

        var ids = session.Drain().Select(t => t.Id).ToList();

        Assert.Equal(5000, ids.Count);
        Assert.All(ids, id => Assert.InRange(id, 1, 65_535));
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(5000, session.InflightCount);
    }

    [Fact]
    public void MQTT_2_3_1_2_ids_wrap_from_65535_to_1_once_released()
    {
        var session = NewSession();
        var previous = 0;
        for (var i = 0; i < 70_000; i++)
        {
            session.Enqueue(D("m"));
            var id = Take(session, maxInflight: 1);
            Assert.Equal(previous == 65_535 ? 1 : previous + 1, id);
            Assert.True(session.Complete(id));
            previous = id;
        }
    }

    [Fact]
    public void MQTT_2_3_1_2_wrap_around_skips_ids_still_in_flight()
    {
        var session = NewSession();
        for (var i = 0; i < 65_535 + 3; i++)
        {
            session.Enqueue(D("m"));
        }

        var first = session.Drain();
        Assert.Equal(65_535, first.Count); // every id is in use: the rest must wait
        Assert.Equal(3, session.PendingCount);

        // Free two ids in the middle; the allocator wraps and must skip every id still in flight.
        Assert.True(session.Complete(300));
        Assert.True(session.Complete(7));
        Assert.Equal([7, 300], session.Drain().Select(t => t.Id));
        Assert.Equal(1, session.PendingCount);
        Assert.Equal(65_535, session.InflightCount);
    }

    [Fact]
    public void Max_in_flight_holds_back_further_QoS_1_and_2_deliveries_in_order()
    {
        var session = NewSession();
        foreach (var p in new[] { "1", "2", "3", "4" })
        {
            session.Enqueue(D(p));
        }

        var taken = session.Drain(maxInflight: 2);
        Assert.Equal(["1", "2"], taken.Select(t => t.Delivery.Text()));
        Assert.False(session.TryTakeNext(2, Now, out _, out _));
        Assert.Equal(2, session.PendingCount);

        Assert.True(session.Complete(taken[0].Id));
        var next = session.Drain(maxInflight: 2);
        Assert.Equal("3", Assert.Single(next).Delivery.Text());
    }

    [Fact]
    public void MQTT_2_3_1_5_QoS_0_deliveries_take_no_packet_id_and_no_in_flight_slot()
    {
        var session = NewSession();
        session.Enqueue(D("a", QoS.AtLeastOnce));
        session.Enqueue(D("b", QoS.AtMostOnce));
        Take(session, maxInflight: 1);

        // The window is full, yet a QoS 0 delivery at the head goes out, with id 0.
        Assert.True(session.TryTakeNext(1, Now, out var delivery, out var id));
        Assert.Equal("b", delivery.Text());
        Assert.Equal(0, id);
        Assert.Equal(1, session.InflightCount);
    }

    [Fact]
    public void MQTT_4_3_2_complete_finishes_a_delivery_once()
    {
        var session = NewSession();
        session.Enqueue(D("a"));
        var id = Take(session);

        Assert.False(session.Complete(id + 1));
        Assert.True(session.Complete(id));
        Assert.False(session.Complete(id)); // a second PUBACK for the same id is unknown
        Assert.Equal(0, session.InflightCount);
    }

    [Fact]
    public void MQTT_4_3_3_release_moves_a_QoS_2_delivery_to_released_and_complete_ends_it()
    {
        var session = NewSession();
        session.Enqueue(D("two", QoS.ExactlyOnce));
        session.Enqueue(D("one", QoS.AtLeastOnce));
        var two = Take(session);
        var one = Take(session);

        Assert.False(session.Release(one)); // PUBREC is for QoS 2 only
        Assert.False(session.Release(9999));
        Assert.True(session.Release(two));

        var snapshot = session.InflightSnapshot();
        Assert.Equal(DeliveryState.Released, snapshot.Single(s => s.Id == two).State);
        Assert.Equal(DeliveryState.Sent, snapshot.Single(s => s.Id == one).State);

        Assert.True(session.Complete(two));
        Assert.Equal(one, Assert.Single(session.InflightSnapshot()).Id);
    }

    [Fact]
    public void MQTT_4_4_0_1_in_flight_snapshot_is_in_the_order_first_sent()
    {
        var session = NewSession();
        for (var i = 0; i < 10; i++)
        {
            session.Enqueue(D(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        var taken = session.Drain();
        session.Complete(taken[3].Id);

        Assert.Equal(["0", "1", "2", "4", "5", "6", "7", "8", "9"], session.InflightSnapshot().Select(s => s.Delivery.Text()));
    }

    [Fact]
    public void Bounded_queue_drops_the_oldest_and_counts_it()
    {
        var session = NewSession(maxQueued: 3);
        var accepted = new[] { "1", "2", "3", "4", "5" }.Select(p => session.Enqueue(D(p))).ToList();

        Assert.Equal([0, 0, 0, 1, 1], accepted);
        Assert.Equal(2, session.Dropped);
        Assert.Equal(3, session.PendingCount);
        Assert.Equal(["3", "4", "5"], session.Drain().Select(t => t.Delivery.Text()));
    }

    [Fact]
    public void Max_queued_bytes_drops_the_oldest_until_the_payload_bytes_fit()
    {
        var session = new Session("client", 0, new MemoryBrokerStore(), maxQueued: 100, maxQueuedBytes: 10);
        Assert.Equal(0, session.Enqueue(D("aaaa")));
        Assert.Equal(0, session.Enqueue(D("bbbb")));
        Assert.Equal(8, session.PendingBytes);

        // 4 + 4 + 6 = 14 > 10: the oldest goes (drop-oldest, as for the message count).
        Assert.Equal(1, session.Enqueue(D("cccccc")));
        Assert.Equal(10, session.PendingBytes);

        // One message larger than the whole limit empties the rest but is itself kept.
        Assert.Equal(2, session.Enqueue(D("dddddddddddd")));
        Assert.Equal(12, session.PendingBytes);
        Assert.Equal(["dddddddddddd"], session.Drain().Select(t => t.Delivery.Text()));
        Assert.Equal(0, session.PendingBytes);
        Assert.Equal(3, session.Dropped);
    }

    [Fact]
    public async Task Dropping_a_stored_delivery_removes_it_from_the_store()
    {
        var store = new MemoryBrokerStore();
        var session = NewSession(persistent: true, maxQueued: 1, store: store);
        var first = D("1", seq: 1);
        var second = D("2", seq: 2);
        await store.EnqueueAsync(first.Message, [new QueueTarget("client", 1, QoS.AtLeastOnce)]);
        await store.EnqueueAsync(second.Message, [new QueueTarget("client", 2, QoS.AtLeastOnce)]);

        session.Enqueue(first);
        Assert.Equal(1, session.Enqueue(second));

        var queue = await store.LoadQueueAsync("client", CancellationToken.None);
        Assert.Equal(2, Assert.Single(queue).Seq);
    }

    [Fact]
    public async Task MQTT5_3_3_2_3_3_expired_messages_are_skipped_and_forgotten()
    {
        var store = new MemoryBrokerStore();
        var session = NewSession(persistent: true, store: store);
        var expired = D("old", seq: 1, expiresAt: Now.AddSeconds(-1));
        await store.EnqueueAsync(expired.Message, [new QueueTarget("client", 1, QoS.AtLeastOnce)]);
        session.Enqueue(expired);
        session.Enqueue(D("stale0", QoS.AtMostOnce, expiresAt: Now));
        session.Enqueue(D("live", expiresAt: Now.AddMinutes(1)));

        Assert.Equal(["live"], session.Drain().Select(t => t.Delivery.Text()));
        Assert.Empty(await store.LoadQueueAsync("client", CancellationToken.None));
        Assert.Equal(0, session.PendingCount);
    }

    [Fact]
    public async Task Stored_deliveries_record_their_packet_id_and_state_and_leave_the_store_on_completion()
    {
        var store = new MemoryBrokerStore();
        var session = NewSession(persistent: true, store: store);
        var delivery = D("q2", QoS.ExactlyOnce, seq: 1);
        await store.EnqueueAsync(delivery.Message, [new QueueTarget("client", 1, QoS.ExactlyOnce)]);
        session.Enqueue(delivery);

        var id = Take(session);
        var sent = Assert.Single(await store.LoadQueueAsync("client", CancellationToken.None));
        Assert.Equal((id, DeliveryState.Sent), (sent.PacketId, sent.State));

        session.Release(id);
        var released = Assert.Single(await store.LoadQueueAsync("client", CancellationToken.None));
        Assert.Equal((id, DeliveryState.Released), (released.PacketId, released.State));

        session.Complete(id);
        Assert.Empty(await store.LoadQueueAsync("client", CancellationToken.None));
    }

    [Fact]
    public void MQTT_4_3_3_2_a_received_QoS_2_id_is_recorded_once_until_released()
    {
        var session = NewSession();
        Assert.True(session.TryAddReceivedId(7, out _));
        Assert.False(session.TryAddReceivedId(7, out _)); // a resent PUBLISH (DUP) is not routed again
        Assert.True(session.TryAddReceivedId(8, out _));

        session.RemoveReceivedId(7); // PUBREL
        Assert.True(session.TryAddReceivedId(7, out _)); // the id may now be reused by a new message
    }

    [Fact]
    public void MQTT_4_3_3_2_a_held_received_id_is_known_until_released()
    {
        var session = NewSession();
        Assert.False(session.HasReceivedId(7));
        Assert.True(session.TryAddReceivedId(7));
        Assert.True(session.HasReceivedId(7));
        Assert.False(session.TryAddReceivedId(7));
        Assert.True(session.RemoveReceivedId(7));
        Assert.False(session.HasReceivedId(7));
    }

    [Fact]
    public async Task Received_ids_of_a_persistent_session_are_stored_and_a_clean_session_stores_nothing()
    {
        var store = new MemoryBrokerStore();
        var persistent = NewSession(persistent: true, store: store);
        Assert.True(persistent.TryAddReceivedId(42, out var durable));
        await durable;
        Assert.Equal([42], Assert.Single(await store.LoadSessionsAsync(CancellationToken.None)).ReceivedIds);

        persistent.RemoveReceivedId(42);

        // The session never saved a header, so the store may forget it once its last id is gone.
        Assert.All(await store.LoadSessionsAsync(CancellationToken.None), s => Assert.Empty(s.ReceivedIds));

        var cleanStore = new MemoryBrokerStore();
        var clean = new Session("other", 0, cleanStore, 10);
        Assert.True(clean.TryAddReceivedId(1, out _));
        Assert.Empty(await cleanStore.LoadSessionsAsync(CancellationToken.None));
    }

    [Fact]
    public void Restore_puts_queued_records_in_the_queue_and_sent_or_released_ones_in_flight()
    {
        var session = NewSession(persistent: true);
        QueuedRecord R(long seq, QoS qos, int id, DeliveryState state) =>
            new(seq, TestBroker.Message("t", seq.ToString(System.Globalization.CultureInfo.InvariantCulture), qos), qos, id, state);

        session.Restore(
        [
            R(3, QoS.AtLeastOnce, 0, DeliveryState.Queued),
            R(5, QoS.AtLeastOnce, 1, DeliveryState.Sent),
            R(8, QoS.ExactlyOnce, 2, DeliveryState.Released),
            R(9, QoS.ExactlyOnce, 2, DeliveryState.Sent),     // id already taken: sent again as new
            R(11, QoS.AtLeastOnce, 0, DeliveryState.Sent),    // no usable id: back in the queue
        ], receivedIds: [17]);

        var inflight = session.InflightSnapshot();
        Assert.Equal([(1, 5L, DeliveryState.Sent), (2, 8L, DeliveryState.Released)],
            inflight.Select(i => (i.Id, i.Delivery.Seq, i.State)));
        Assert.Equal(3, session.PendingCount);

        // Restored ids stay reserved: new deliveries get other ids (MQTT-2.3.1-2).
        var taken = session.Drain();
        Assert.Equal([3L, 9L, 11L], taken.Select(t => t.Delivery.Seq));
        Assert.DoesNotContain(taken, t => t.Id is 1 or 2);

        // Sequence numbers continue after the highest restored one.
        Assert.Equal(12, session.NextSeq());

        // MQTT-4.3.3-2 survives a restart: the restored id still suppresses a duplicate.
        Assert.False(session.TryAddReceivedId(17, out _));
    }

    [Fact]
    public void Clear_forgets_queue_in_flight_and_received_ids()
    {
        var session = NewSession();
        session.Enqueue(D("a"));
        session.Enqueue(D("b"));
        Take(session);
        session.TryAddReceivedId(5, out _);

        session.Clear();

        Assert.Equal(0, session.PendingCount);
        Assert.Equal(0, session.InflightCount);
        Assert.True(session.TryAddReceivedId(5, out _));
    }
}
