namespace Cicada.Core.Storage;

/// <summary>
/// The non-durable store (<c>--storage memory</c>, tests): same contract as SQLite, state lives
/// only as long as the process.
/// </summary>
public sealed class MemoryBrokerStore : IBrokerStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Message> _retained = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SessionState> _sessions = new(StringComparer.Ordinal);
    private long _nextMessageId;

    private sealed class SessionState
    {
        public uint Expiry;
        public DateTimeOffset? DisconnectedAt;
        public readonly Dictionary<string, SubscriptionRecord> Subscriptions = new(StringComparer.Ordinal);
        public readonly SortedDictionary<long, QueuedRecord> Queue = [];
        public readonly HashSet<int> ReceivedIds = [];
    }

    public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public Task<IReadOnlyList<Message>> LoadRetainedAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<Message>>([.. _retained.Values]);
        }
    }

    public Task SetRetainedAsync(Message message)
    {
        lock (_lock)
        {
            _retained[message.Topic] = message;
        }

        return Task.CompletedTask;
    }

    public Task ClearRetainedAsync(string topic)
    {
        lock (_lock)
        {
            _retained.Remove(topic);
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<SessionRecord>> LoadSessionsAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<SessionRecord>>(
            [
                .. _sessions.Select(kv => new SessionRecord(kv.Key, kv.Value.Expiry, kv.Value.DisconnectedAt,
                    [.. kv.Value.Subscriptions.Values], [.. kv.Value.ReceivedIds])),
            ]);
        }
    }

    public Task SaveSessionAsync(string clientId, uint expirySeconds, DateTimeOffset? disconnectedAt)
    {
        lock (_lock)
        {
            var s = Get(clientId);
            s.Expiry = expirySeconds;
            s.DisconnectedAt = disconnectedAt;
        }

        return Task.CompletedTask;
    }

    public Task DeleteSessionAsync(string clientId)
    {
        lock (_lock)
        {
            _sessions.Remove(clientId);
        }

        return Task.CompletedTask;
    }

    public Task AddSubscriptionAsync(string clientId, SubscriptionRecord subscription)
    {
        lock (_lock)
        {
            Get(clientId).Subscriptions[subscription.Filter] = subscription;
        }

        return Task.CompletedTask;
    }

    public Task RemoveSubscriptionAsync(string clientId, string filter)
    {
        lock (_lock)
        {
            if (_sessions.TryGetValue(clientId, out var s))
            {
                s.Subscriptions.Remove(filter);
            }
        }

        return Task.CompletedTask;
    }

    public Task AddReceivedIdAsync(string clientId, int id)
    {
        lock (_lock)
        {
            Get(clientId).ReceivedIds.Add(id);
        }

        return Task.CompletedTask;
    }

    public Task RemoveReceivedIdAsync(string clientId, int id)
    {
        lock (_lock)
        {
            if (_sessions.TryGetValue(clientId, out var s))
            {
                s.ReceivedIds.Remove(id);
            }
        }

        return Task.CompletedTask;
    }

    public Task EnqueueAsync(Message message, IReadOnlyList<QueueTarget> targets)
    {
        lock (_lock)
        {
            if (message.StoreId == 0)
            {
                message.StoreId = ++_nextMessageId;
            }

            foreach (var t in targets)
            {
                Get(t.ClientId).Queue[t.Seq] = new QueuedRecord(t.Seq, message, t.Qos, 0, DeliveryState.Queued);
            }
        }

        return Task.CompletedTask;
    }

    public Task UpdateDeliveryAsync(string clientId, long seq, int packetId, DeliveryState state)
    {
        lock (_lock)
        {
            if (_sessions.TryGetValue(clientId, out var s) && s.Queue.TryGetValue(seq, out var r))
            {
                s.Queue[seq] = r with { PacketId = packetId, State = state };
            }
        }

        return Task.CompletedTask;
    }

    public Task RemoveDeliveryAsync(string clientId, long seq)
    {
        lock (_lock)
        {
            if (_sessions.TryGetValue(clientId, out var s))
            {
                s.Queue.Remove(seq);
            }
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<QueuedRecord>> LoadQueueAsync(string clientId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<QueuedRecord>>(
                _sessions.TryGetValue(clientId, out var s) ? [.. s.Queue.Values] : []);
        }
    }

    private SessionState Get(string clientId)
    {
        if (!_sessions.TryGetValue(clientId, out var s))
        {
            s = new SessionState();
            _sessions.Add(clientId, s);
        }

        return s;
    }
}
