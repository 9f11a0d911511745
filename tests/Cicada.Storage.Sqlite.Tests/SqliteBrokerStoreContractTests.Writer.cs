using Cicada.Core;
using Cicada.Core.Storage;

namespace Cicada.Storage.Sqlite.Tests;

public sealed partial class SqliteBrokerStoreContractTests
{
    [Fact]
    public async Task Enqueue_ManyTargets_StoresThePayloadOnce()
    {
        await Store.EnqueueAsync(StoreAssert.FullMessage("fan"),
            [.. Enumerable.Range(0, 50).Select(i => new QueueTarget("c" + i, 1, QoS.AtLeastOnce))]);

        Assert.Equal(1L, MessageRows);
        Assert.Equal(50L, Query<long>("SELECT COUNT(*) FROM queue"));
    }

    [Fact]
    public async Task MessageRow_GoesWithItsLastQueueEntry()
    {
        var message = StoreAssert.BareMessage("t");
        await Store.EnqueueAsync(message, [new QueueTarget("a", 1, QoS.AtLeastOnce), new QueueTarget("b", 1, QoS.AtLeastOnce)]);
        await Store.RemoveDeliveryAsync("a", 1);
        Assert.Equal(1L, MessageRows);

        await Store.RemoveDeliveryAsync("b", 1);
        Assert.Equal(0L, MessageRows);
    }

    [Fact]
    public async Task MessageRow_EnqueueThenRemoveUnawaited_LeavesNoRow()
    {
        var enqueue = Store.EnqueueAsync(StoreAssert.BareMessage("t"), [new QueueTarget("a", 1, QoS.AtLeastOnce)]);
        var remove = Store.RemoveDeliveryAsync("a", 1);
        await Task.WhenAll(enqueue, remove);

        Assert.Equal(0L, MessageRows);
        Assert.Equal(0L, Query<long>("SELECT COUNT(*) FROM queue"));
    }

    [Fact]
    public async Task DeleteSession_DeletesOnlyMessagesNoOtherSessionRefersTo()
    {
        var shared = StoreAssert.BareMessage("shared");
        await Store.EnqueueAsync(shared, [new QueueTarget("gone", 1, QoS.AtLeastOnce), new QueueTarget("kept", 1, QoS.AtLeastOnce)]);
        await Store.EnqueueAsync(StoreAssert.BareMessage("own"), [new QueueTarget("gone", 2, QoS.AtLeastOnce)]);
        await Store.DeleteSessionAsync("gone");

        Assert.Equal(1L, MessageRows);
        Assert.Equal(shared.StoreId, Query<long>("SELECT id FROM messages"));
    }

    [Fact]
    public async Task Enqueue_OverwritingAnEntry_ReleasesTheMessageItReplaced()
    {
        await Store.EnqueueAsync(StoreAssert.BareMessage("old"), [new QueueTarget("c", 1, QoS.AtLeastOnce)]);
        var replacement = StoreAssert.BareMessage("new");
        await Store.EnqueueAsync(replacement, [new QueueTarget("c", 1, QoS.AtLeastOnce)]);

        Assert.Equal(1L, MessageRows);
        Assert.Equal("new", Assert.Single(await Store.LoadQueueAsync("c", None)).Message.Topic);
    }

    [Fact]
    public async Task Enqueue_StoredMessageWhoseRowWasReleased_IsWrittenAgain()
    {
        var message = StoreAssert.FullMessage("t");
        await Store.EnqueueAsync(message, [new QueueTarget("a", 1, QoS.AtLeastOnce)]);
        await Store.RemoveDeliveryAsync("a", 1);
        Assert.Equal(0L, MessageRows);

        var id = message.StoreId;
        await Store.EnqueueAsync(message, [new QueueTarget("b", 1, QoS.AtLeastOnce)]);

        Assert.Equal(id, message.StoreId);
        var entry = Assert.Single(await Store.LoadQueueAsync("b", None));
        StoreAssert.SameMessage(message, entry.Message);
        Assert.Equal(id, entry.Message.StoreId);
    }

    [Fact]
    public async Task Enqueue_WithNoTargets_StoresNothing()
    {
        var message = StoreAssert.BareMessage("t");
        await Store.EnqueueAsync(message, []);

        Assert.NotEqual(0, message.StoreId);
        Assert.Equal(0L, MessageRows);
    }

    [Fact]
    public async Task GroupCommit_ManyUnawaitedWrites_ShareTransactions()
    {
        const int writes = 2000;
        var before = Sqlite.CommittedTransactions;
        var tasks = Enumerable.Range(0, writes)
            .Select(i => Store.EnqueueAsync(StoreAssert.BareMessage("m" + i), [new QueueTarget("c", i, QoS.AtLeastOnce)]))
            .ToArray();
        await Task.WhenAll(tasks);

        var transactions = Sqlite.CommittedTransactions - before;
        Assert.InRange(transactions, writes / SqliteBrokerStore.MaxBatch, writes / 2);
        Assert.Equal(writes, (await Store.LoadQueueAsync("c", None)).Count);
    }

    [Fact]
    public async Task FailedWrite_FaultsOnlyItsOwnTask_AndTheWriterCarriesOn()
    {
        var before = Store.EnqueueAsync(StoreAssert.BareMessage("before"), [new QueueTarget("c", 1, QoS.AtLeastOnce)]);
        var failing = Sqlite.RunOnWriterAsync(_ => throw new InvalidOperationException("injected"));
        var after = Store.AddReceivedIdAsync("c", 5);

        await before;
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => failing);
        Assert.Equal("injected", error.Message);
        await after;

        await Store.SaveSessionAsync("c", 7, null);
        var session = Assert.Single(await Store.LoadSessionsAsync(None));
        Assert.Equal(7u, session.ExpirySeconds);
        Assert.Equal([5], session.ReceivedIds);
        Assert.Single(await Store.LoadQueueAsync("c", None));
    }
}
