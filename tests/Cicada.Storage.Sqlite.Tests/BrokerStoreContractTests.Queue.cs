using Cicada.Core;
using Cicada.Core.Storage;
using Cicada.Core.Topics;

namespace Cicada.Storage.Sqlite.Tests;

public abstract partial class BrokerStoreContractTests
{
    [Fact]
    public async Task Enqueue_AssignsStoreIdBeforeReturning_DistinctPerMessage()
    {
        var first = StoreAssert.BareMessage("a");
        var second = StoreAssert.BareMessage("b");
        var t1 = Store.EnqueueAsync(first, [new QueueTarget("c", 1, QoS.AtLeastOnce)]);
        var firstId = first.StoreId;
        var t2 = Store.EnqueueAsync(second, [new QueueTarget("c", 2, QoS.AtLeastOnce)]);

        // Read before awaiting: the id is the caller's to use at once.
        Assert.NotEqual(0, firstId);
        Assert.True(second.StoreId > firstId);
        await Task.WhenAll(t1, t2);

        var queue = await Store.LoadQueueAsync("c", None);
        Assert.Equal([first.StoreId, second.StoreId], queue.Select(r => r.Message.StoreId));
    }

    [Fact]
    public async Task Enqueue_MessageAlreadyStored_KeepsStoreIdAndIsSharedByBothQueues()
    {
        var message = StoreAssert.FullMessage("t");
        await Store.EnqueueAsync(message, [new QueueTarget("a", 1, QoS.AtLeastOnce)]);
        var id = message.StoreId;
        await Store.EnqueueAsync(message, [new QueueTarget("b", 7, QoS.ExactlyOnce)]);

        Assert.Equal(id, message.StoreId);
        var a = Assert.Single(await Store.LoadQueueAsync("a", None));
        var b = Assert.Single(await Store.LoadQueueAsync("b", None));
        Assert.Equal(id, a.Message.StoreId);
        Assert.Equal(id, b.Message.StoreId);
        StoreAssert.SameMessage(message, b.Message);
    }

    [Fact]
    public async Task Enqueue_WithReceivedId_StoresTheMessageAndTheIdTogether_MQTT_4_3_3_2()
    {
        var message = StoreAssert.BareMessage("exactly/once");
        await Store.SaveSessionAsync("publisher", uint.MaxValue, null);

        await Store.EnqueueAsync(message, [new QueueTarget("subscriber", 1, QoS.ExactlyOnce)], new ReceivedId("publisher", 42));

        Assert.Equal(message.StoreId, Assert.Single(await Store.LoadQueueAsync("subscriber", None)).Message.StoreId);
        var publisher = Assert.Single(await Store.LoadSessionsAsync(None), s => s.ClientId == "publisher");
        Assert.Equal([42], publisher.ReceivedIds);
    }

    [Fact]
    public async Task Enqueue_RoundTripsMessageAndEntry()
    {
        var message = StoreAssert.FullMessage("home/kitchen/temp", qos: QoS.ExactlyOnce);

        // The entry's QoS is the granted one (MQTT-3.8.4-8: min of publish and subscription QoS).
        await Store.EnqueueAsync(message, [new QueueTarget("c", 42, QoS.AtLeastOnce)]);

        var entry = Assert.Single(await Store.LoadQueueAsync("c", None));
        Assert.Equal(42, entry.Seq);
        Assert.Equal(QoS.AtLeastOnce, entry.Qos);
        Assert.Equal(0, entry.PacketId);
        Assert.Equal(DeliveryState.Queued, entry.State);
        StoreAssert.SameMessage(message, entry.Message);
        Assert.Equal(message.StoreId, entry.Message.StoreId);
    }

    [Fact]
    public async Task Enqueue_ManyTargets_EachSessionGetsItsEntry_OneSharedMessagePerLoad()
    {
        var message = StoreAssert.FullMessage("fan/out");
        await Store.EnqueueAsync(message,
        [
            new QueueTarget("a", 1, QoS.AtMostOnce),
            new QueueTarget("b", 1, QoS.AtLeastOnce),
            new QueueTarget("a", 2, QoS.ExactlyOnce),
        ]);

        var a = await Store.LoadQueueAsync("a", None);
        Assert.Equal([1L, 2L], a.Select(r => r.Seq));
        Assert.Equal([QoS.AtMostOnce, QoS.ExactlyOnce], a.Select(r => r.Qos));
        Assert.Same(a[0].Message, a[1].Message);
        StoreAssert.SameMessage(message, Assert.Single(await Store.LoadQueueAsync("b", None)).Message);
    }

    [Fact]
    public async Task LoadQueue_ReturnsEntriesInSeqOrder()
    {
        foreach (var seq in new long[] { 5, 2, 9, 1L << 40 })
        {
            await Store.EnqueueAsync(StoreAssert.BareMessage("s" + seq), [new QueueTarget("c", seq, QoS.AtLeastOnce)]);
        }

        var queue = await Store.LoadQueueAsync("c", None);
        Assert.Equal([2L, 5L, 9L, 1L << 40], queue.Select(r => r.Seq));
        Assert.Equal(["s2", "s5", "s9", "s" + (1L << 40)], queue.Select(r => r.Message.Topic));
    }

    [Fact]
    public async Task UpdateDelivery_KeepsPacketIdAndState_MQTT_4_4_0_1()
    {
        await Store.EnqueueAsync(StoreAssert.BareMessage("a", qos: QoS.ExactlyOnce), [new QueueTarget("c", 1, QoS.ExactlyOnce)]);
        await Store.EnqueueAsync(StoreAssert.BareMessage("b", qos: QoS.ExactlyOnce), [new QueueTarget("c", 2, QoS.ExactlyOnce)]);
        await Store.UpdateDeliveryAsync("c", 1, 65535, DeliveryState.Sent);
        await Store.UpdateDeliveryAsync("c", 2, 17, DeliveryState.Sent);
        await Store.UpdateDeliveryAsync("c", 2, 17, DeliveryState.Released);
        await Store.UpdateDeliveryAsync("c", 3, 1, DeliveryState.Sent);

        var queue = await Store.LoadQueueAsync("c", None);
        Assert.Equal([(1L, 65535, DeliveryState.Sent), (2L, 17, DeliveryState.Released)],
            queue.Select(r => (r.Seq, r.PacketId, r.State)));
    }

    [Fact]
    public async Task RemoveDelivery_DeletesOnlyThatEntry()
    {
        var message = StoreAssert.BareMessage("t");
        await Store.EnqueueAsync(message, [new QueueTarget("a", 1, QoS.AtLeastOnce), new QueueTarget("b", 1, QoS.AtLeastOnce)]);
        await Store.EnqueueAsync(StoreAssert.BareMessage("u"), [new QueueTarget("a", 2, QoS.AtLeastOnce)]);
        await Store.RemoveDeliveryAsync("a", 1);

        Assert.Equal([2L], (await Store.LoadQueueAsync("a", None)).Select(r => r.Seq));
        StoreAssert.SameMessage(message, Assert.Single(await Store.LoadQueueAsync("b", None)).Message);
    }

    [Fact]
    public async Task Writes_ApplyInCallOrder_WithoutAwaitingEachOther()
    {
        // Enqueue then remove at once (a QoS 1 message acknowledged before its write completed).
        var message = StoreAssert.BareMessage("t");
        var enqueue = Store.EnqueueAsync(message, [new QueueTarget("c", 1, QoS.AtLeastOnce)]);
        var remove = Store.RemoveDeliveryAsync("c", 1);
        var again = Store.EnqueueAsync(StoreAssert.BareMessage("u"), [new QueueTarget("c", 2, QoS.AtLeastOnce)]);
        var update = Store.UpdateDeliveryAsync("c", 2, 9, DeliveryState.Sent);

        var tasks = new List<Task> { enqueue, remove, again, update };
        for (uint i = 1; i <= 200; i++)
        {
            tasks.Add(Store.SaveSessionAsync("c", i, null));
        }

        tasks.Add(Store.AddSubscriptionAsync("c", new SubscriptionRecord("f", new SubscriptionOptions(QoS.AtMostOnce))));
        tasks.Add(Store.RemoveSubscriptionAsync("c", "f"));
        tasks.Add(Store.AddSubscriptionAsync("c", new SubscriptionRecord("f", new SubscriptionOptions(QoS.ExactlyOnce))));
        await Task.WhenAll(tasks);

        var entry = Assert.Single(await Store.LoadQueueAsync("c", None));
        Assert.Equal((2L, 9, DeliveryState.Sent), (entry.Seq, entry.PacketId, entry.State));
        var session = Assert.Single(await Store.LoadSessionsAsync(None));
        Assert.Equal(200u, session.ExpirySeconds);
        Assert.Equal(QoS.ExactlyOnce, Assert.Single(session.Subscriptions).Options.MaxQos);
    }

    [Fact]
    public async Task ConcurrentCallers_AllComplete_AndAllWritesArePresent()
    {
        const int callers = 64;
        const int perCaller = 40;
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var workers = Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
        {
            await start.Task;
            for (var i = 0; i < perCaller; i++)
            {
                var message = StoreAssert.BareMessage($"c{c}/m{i}");
                await Store.EnqueueAsync(message, [new QueueTarget($"client{c}", i, QoS.AtLeastOnce)]);
            }

            await Store.SaveSessionAsync($"client{c}", (uint)c, null);
        })).ToArray();
        start.SetResult();
        await Task.WhenAll(workers);

        var sessions = await Store.LoadSessionsAsync(None);
        Assert.Equal(callers, sessions.Count);
        for (var c = 0; c < callers; c++)
        {
            var queue = await Store.LoadQueueAsync($"client{c}", None);
            Assert.Equal(Enumerable.Range(0, perCaller).Select(i => $"c{c}/m{i}"), queue.Select(r => r.Message.Topic));
        }

        var ids = new HashSet<long>();
        for (var c = 0; c < callers; c++)
        {
            foreach (var r in await Store.LoadQueueAsync($"client{c}", None))
            {
                Assert.True(ids.Add(r.Message.StoreId), "every message got its own StoreId");
            }
        }
    }

    [Fact]
    public async Task AfterDispose_CallsFaultWithObjectDisposed_NeverThrowSynchronously()
    {
        await Store.SaveSessionAsync("c", 1, null);
        await Store.DisposeAsync();

        var message = StoreAssert.BareMessage("t");
        Task[] calls =
        [
            Store.SetRetainedAsync(message),
            Store.ClearRetainedAsync("t"),
            Store.SaveSessionAsync("c", 1, null),
            Store.DeleteSessionAsync("c"),
            Store.AddSubscriptionAsync("c", new SubscriptionRecord("t", new SubscriptionOptions(QoS.AtMostOnce))),
            Store.RemoveSubscriptionAsync("c", "t"),
            Store.AddReceivedIdAsync("c", 1),
            Store.RemoveReceivedIdAsync("c", 1),
            Store.EnqueueAsync(message, [new QueueTarget("c", 1, QoS.AtLeastOnce)]),
            Store.UpdateDeliveryAsync("c", 1, 1, DeliveryState.Sent),
            Store.RemoveDeliveryAsync("c", 1),
            Store.LoadRetainedAsync(None),
            Store.LoadSessionsAsync(None),
            Store.LoadQueueAsync("c", None),
        ];

        foreach (var call in calls)
        {
            await Assert.ThrowsAsync<ObjectDisposedException>(() => call);
        }

        // Disposing twice is harmless.
        await Store.DisposeAsync();
    }
}
