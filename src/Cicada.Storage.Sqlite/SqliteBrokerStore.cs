using Cicada.Core;
using Cicada.Core.Storage;

namespace Cicada.Storage.Sqlite;

/// <summary>The durable default store: one SQLite file (WAL) under the data folder, one batched writer.</summary>
public sealed class SqliteBrokerStore(string databasePath) : IBrokerStore
{
    public string DatabasePath { get; } = databasePath;

    public Task InitializeAsync(CancellationToken cancellationToken) => throw new NotImplementedException();
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    public Task<IReadOnlyList<Message>> LoadRetainedAsync(CancellationToken cancellationToken) => throw new NotImplementedException();
    public Task SetRetainedAsync(Message message) => throw new NotImplementedException();
    public Task ClearRetainedAsync(string topic) => throw new NotImplementedException();
    public Task<IReadOnlyList<SessionRecord>> LoadSessionsAsync(CancellationToken cancellationToken) => throw new NotImplementedException();
    public Task SaveSessionAsync(string clientId, uint expirySeconds, DateTimeOffset? disconnectedAt) => throw new NotImplementedException();
    public Task DeleteSessionAsync(string clientId) => throw new NotImplementedException();
    public Task AddSubscriptionAsync(string clientId, SubscriptionRecord subscription) => throw new NotImplementedException();
    public Task RemoveSubscriptionAsync(string clientId, string filter) => throw new NotImplementedException();
    public Task AddReceivedIdAsync(string clientId, int id) => throw new NotImplementedException();
    public Task RemoveReceivedIdAsync(string clientId, int id) => throw new NotImplementedException();
    public Task EnqueueAsync(Message message, IReadOnlyList<QueueTarget> targets) => throw new NotImplementedException();
    public Task UpdateDeliveryAsync(string clientId, long seq, int packetId, DeliveryState state) => throw new NotImplementedException();
    public Task RemoveDeliveryAsync(string clientId, long seq) => throw new NotImplementedException();
    public Task<IReadOnlyList<QueuedRecord>> LoadQueueAsync(string clientId, CancellationToken cancellationToken) => throw new NotImplementedException();
}
