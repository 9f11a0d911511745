using Cicada.Core.Sessions;
using Cicada.Core.Storage;

namespace Cicada.Core.Tests;

/// <summary>
/// Session bounds an edge applies by its own rules (AMQP x-message-ttl, x-max-length with drop-head
/// or reject-publish): what is dropped goes from the store too.
/// </summary>
public class SessionBoundsTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private static Session NewSession(IBrokerStore store) => new("client", uint.MaxValue, store, 100_000);

    private static async Task<Session> FilledAsync(MemoryBrokerStore store, params string[] payloads)
    {
        var session = NewSession(store);
        for (var i = 0; i < payloads.Length; i++)
        {
            var message = TestBroker.Message("t", payloads[i], QoS.AtLeastOnce);
            await store.EnqueueAsync(message, [new QueueTarget("client", i + 1, QoS.AtLeastOnce)]);
            session.Enqueue(new Delivery(message, QoS.AtLeastOnce, false, i + 1));
        }

        return session;
    }

    private static async Task<List<long>> StoredSeqsAsync(MemoryBrokerStore store) =>
        (await store.LoadQueueAsync("client", CancellationToken.None)).Select(r => r.Seq).ToList();

    [Fact]
    public async Task TrimPending_drop_head_keeps_the_newest_and_forgets_the_dropped_in_the_store()
    {
        var store = new MemoryBrokerStore();
        var session = await FilledAsync(store, "a", "b", "c", "d");

        Assert.Equal(2, session.TrimPending(2, dropNewest: false));

        Assert.Equal(2, session.PendingBytes);
        Assert.Equal(["c", "d"], session.Drain().Select(t => t.Delivery.Text()));
        Assert.Equal([3L, 4L], await StoredSeqsAsync(store));
    }

    [Fact]
    public async Task TrimPending_drop_newest_keeps_the_oldest_in_order()
    {
        var store = new MemoryBrokerStore();
        var session = await FilledAsync(store, "a", "b", "c");

        Assert.Equal(1, session.TrimPending(2, dropNewest: true));
        Assert.Equal(0, session.TrimPending(2, dropNewest: true));
        Assert.Equal(2, session.PendingBytes);

        Assert.Equal(["a", "b"], session.Drain().Select(t => t.Delivery.Text()));
        Assert.Equal([1L, 2L], await StoredSeqsAsync(store));
    }

    [Fact]
    public async Task DropExpiredHead_stops_at_the_first_live_message()
    {
        var store = new MemoryBrokerStore();
        var session = await FilledAsync(store, "old1", "old2", "live", "old3");

        Assert.Equal(2, session.DropExpiredHead(m => m.Payload.Span[0] == (byte)'o'));
        Assert.Equal("liveold3".Length, session.PendingBytes);

        Assert.Equal(["live", "old3"], session.Drain().Select(t => t.Delivery.Text()));
        Assert.Equal([3L, 4L], await StoredSeqsAsync(store));
    }

    [Fact]
    public async Task Complete_with_durable_task_completes_once_the_removal_is_stored()
    {
        var store = new MemoryBrokerStore();
        var session = await FilledAsync(store, "a");
        Assert.True(session.TryTakeNext(10, Now, out _, out var id));

        Assert.True(session.Complete(id, out var durable));
        await durable;

        Assert.Empty(await StoredSeqsAsync(store));
        Assert.False(session.Complete(id, out _));
    }

    [Fact]
    public void AcceptedAtTick_is_kept_by_With()
    {
        var message = new Message("t", "x"u8.ToArray(), QoS.AtLeastOnce, retain: false) { AcceptedAtTick = 12_345 };
        var copy = message.With(QoS.AtMostOnce, retain: true);

        Assert.NotSame(message, copy);
        Assert.Equal(12_345, copy.AcceptedAtTick);
    }
}
