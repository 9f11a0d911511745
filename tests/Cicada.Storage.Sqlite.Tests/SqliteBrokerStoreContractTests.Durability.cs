using Cicada.Core;
using Cicada.Core.Storage;
using Cicada.Core.Topics;

namespace Cicada.Storage.Sqlite.Tests;

public sealed partial class SqliteBrokerStoreContractTests
{
    [Fact]
    public async Task Initialize_CreatesFolder_WalMode_SynchronousFull_SchemaVersion()
    {
        Assert.True(File.Exists(DatabasePath));
        Assert.Equal("wal", Query<string>("PRAGMA journal_mode"));
        Assert.Equal(2L, Query<long>("PRAGMA user_version")); // 2: the devices table (HTTP device registry)

        // synchronous is per connection: ask the writer's own.
        long synchronous = -1;
        await Sqlite.RunOnWriterAsync(s =>
        {
            using var command = s.Transaction.Connection!.CreateCommand();
            command.Transaction = s.Transaction;
            command.CommandText = "PRAGMA synchronous";
            synchronous = (long)command.ExecuteScalar()!;
        });
        Assert.Equal((long)SqliteSynchronousMode.Full, synchronous);
    }

    [Fact]
    public async Task SynchronousMode_IsAConstructorOption()
    {
        await ReopenAsync(new SqliteBrokerStore(DatabasePath, synchronous: SqliteSynchronousMode.Normal));

        long synchronous = -1;
        await Sqlite.RunOnWriterAsync(s =>
        {
            using var command = s.Transaction.Connection!.CreateCommand();
            command.Transaction = s.Transaction;
            command.CommandText = "PRAGMA synchronous";
            synchronous = (long)command.ExecuteScalar()!;
        });
        Assert.Equal((long)SqliteSynchronousMode.Normal, synchronous);
    }

    [Fact]
    public async Task Initialize_RefusesANewerSchema()
    {
        await Store.DisposeAsync();
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version = 99";
            command.ExecuteNonQuery();
        }

        var store = new SqliteBrokerStore(DatabasePath);
        UseStore(store);
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.InitializeAsync(None));
    }

    [Fact]
    public async Task CompletedWrite_IsCommitted_VisibleToAnIndependentConnection()
    {
        // Stands in for a crash test: once the task completes the row is in the file (committed to
        // the WAL), not in a buffer of the store, so another connection sees it at once.
        var message = StoreAssert.FullMessage("durable/t");
        await Store.EnqueueAsync(message, [new QueueTarget("c", 1, QoS.ExactlyOnce)]);
        await Store.SetRetainedAsync(message);
        await Store.AddReceivedIdAsync("c", 12);

        Assert.Equal(message.StoreId, Query<long>("SELECT message_id FROM queue WHERE client_id = 'c' AND seq = 1"));
        Assert.Equal("durable/t", Query<string>($"SELECT topic FROM messages WHERE id = {message.StoreId}"));
        Assert.Equal(1L, Query<long>("SELECT COUNT(*) FROM retained WHERE topic = 'durable/t'"));
        Assert.Equal(12L, Query<long>("SELECT id FROM received_ids WHERE client_id = 'c'"));
    }

    [Fact]
    public async Task Reopen_EverythingPersists()
    {
        var retained = StoreAssert.FullMessage("home/temp");
        var queued = StoreAssert.FullMessage("home/light", qos: QoS.ExactlyOnce, retain: false);
        var plain = StoreAssert.BareMessage("home/door");
        var disconnectedAt = DateTimeOffset.UtcNow;
        var subscription = new SubscriptionRecord("home/#", new SubscriptionOptions(QoS.ExactlyOnce, true, true, 1, 99));

        await Store.SetRetainedAsync(retained);
        await Store.SaveSessionAsync("phone", 3600, disconnectedAt);
        await Store.AddSubscriptionAsync("phone", subscription);
        await Store.AddReceivedIdAsync("phone", 321);
        await Store.EnqueueAsync(queued, [new QueueTarget("phone", 10, QoS.ExactlyOnce), new QueueTarget("tablet", 3, QoS.AtLeastOnce)]);
        await Store.EnqueueAsync(plain, [new QueueTarget("phone", 11, QoS.AtLeastOnce)]);
        await Store.UpdateDeliveryAsync("phone", 10, 4242, DeliveryState.Released);
        await Store.UpdateDeliveryAsync("phone", 11, 4243, DeliveryState.Sent);

        await ReopenAsync();

        StoreAssert.SameMessage(retained, Assert.Single(await Store.LoadRetainedAsync(None)));
        var sessions = await Store.LoadSessionsAsync(None);
        Assert.Equal(["phone", "tablet"], sessions.Select(s => s.ClientId));
        Assert.Equal(3600u, sessions[0].ExpirySeconds);
        Assert.Equal(disconnectedAt, sessions[0].DisconnectedAt);
        Assert.Equal(subscription, Assert.Single(sessions[0].Subscriptions));
        Assert.Equal([321], sessions[0].ReceivedIds);

        var phone = await Store.LoadQueueAsync("phone", None);
        Assert.Equal([(10L, QoS.ExactlyOnce, 4242, DeliveryState.Released), (11L, QoS.AtLeastOnce, 4243, DeliveryState.Sent)],
            phone.Select(r => (r.Seq, r.Qos, r.PacketId, r.State)));
        StoreAssert.SameMessage(queued, phone[0].Message);
        StoreAssert.SameMessage(plain, phone[1].Message);
        Assert.Equal(queued.StoreId, phone[0].Message.StoreId);
        var tablet = Assert.Single(await Store.LoadQueueAsync("tablet", None));
        Assert.Equal(queued.StoreId, tablet.Message.StoreId);

        // New ids continue above the stored ones, so a restart never reuses a live id.
        var next = StoreAssert.BareMessage("after/restart");
        await Store.EnqueueAsync(next, [new QueueTarget("phone", 12, QoS.AtLeastOnce)]);
        Assert.True(next.StoreId > plain.StoreId);
        Assert.Equal(3, (await Store.LoadQueueAsync("phone", None)).Count);
    }

    [Fact]
    public async Task Dispose_DrainsQueuedWrites_BeforeClosing()
    {
        var tasks = Enumerable.Range(0, 500)
            .Select(i => Store.EnqueueAsync(StoreAssert.BareMessage("m" + i), [new QueueTarget("c", i, QoS.AtLeastOnce)]))
            .ToArray();
        await Store.DisposeAsync();

        Assert.All(tasks, t => Assert.True(t.IsCompletedSuccessfully));
        await ReopenAsync();
        Assert.Equal(500, (await Store.LoadQueueAsync("c", None)).Count);
    }
}
