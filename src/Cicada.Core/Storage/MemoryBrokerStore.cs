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
    private bool _disposed;

    private sealed class SessionState
    {
        /// <summary>Whether <see cref="SaveSessionAsync"/> wrote a header (a session may have only content).</summary>
        public bool HasHeader;
        public uint Expiry;
        public DateTimeOffset? DisconnectedAt;
        public readonly Dictionary<string, SubscriptionRecord> Subscriptions = new(StringComparer.Ordinal);
        public readonly SortedDictionary<long, QueuedRecord> Queue = [];
        public readonly HashSet<int> ReceivedIds = [];

        /// <summary>A session exists while it has a header or anything stored under its id (as in SQLite).</summary>
        public bool Exists => HasHeader || Subscriptions.Count > 0 || Queue.Count > 0 || ReceivedIds.Count > 0;
    }

    private static Task Disposed() => Task.FromException(new ObjectDisposedException(nameof(MemoryBrokerStore)));

    public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Later calls fault with <see cref="ObjectDisposedException"/>, as with the durable stores.</summary>
    public ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            _disposed = true;
        }

        return ValueTask.CompletedTask;
    }

    public Task<IReadOnlyList<Message>> LoadRetainedAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return _disposed
                ? Task.FromException<IReadOnlyList<Message>>(new ObjectDisposedException(nameof(MemoryBrokerStore)))
                : Task.FromResult<IReadOnlyList<Message>>([.. _retained.Values.OrderBy(m => m.Topic, StringComparer.Ordinal)]);
        }
    }

    public Task SetRetainedAsync(Message message)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return Disposed();
            }

            _retained[message.Topic] = message;
        }

        return Task.CompletedTask;
    }

    public Task ClearRetainedAsync(string topic)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return Disposed();
            }

            _retained.Remove(topic);
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<SessionRecord>> LoadSessionsAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return Task.FromException<IReadOnlyList<SessionRecord>>(new ObjectDisposedException(nameof(MemoryBrokerStore)));
            }

            // Sorted like the SQLite store's answer (client id, filter, id) so both read the same.
            return Task.FromResult<IReadOnlyList<SessionRecord>>(
            [
                .. _sessions.Where(kv => kv.Value.Exists).OrderBy(kv => kv.Key, StringComparer.Ordinal)
                    .Select(kv => new SessionRecord(kv.Key, kv.Value.Expiry, kv.Value.DisconnectedAt,
                        [.. kv.Value.Subscriptions.Values.OrderBy(x => x.Filter, StringComparer.Ordinal)],
                        [.. kv.Value.ReceivedIds.Order()])),
            ]);
        }
    }

    public Task SaveSessionAsync(string clientId, uint expirySeconds, DateTimeOffset? disconnectedAt)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return Disposed();
            }

            var s = Get(clientId);
            s.HasHeader = true;
            s.Expiry = expirySeconds;
            s.DisconnectedAt = disconnectedAt;
        }

        return Task.CompletedTask;
    }

    public Task DeleteSessionAsync(string clientId)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return Disposed();
            }

            _sessions.Remove(clientId);
        }

        return Task.CompletedTask;
    }

    public Task AddSubscriptionAsync(string clientId, SubscriptionRecord subscription)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return Disposed();
            }

            Get(clientId).Subscriptions[subscription.Filter] = subscription;
        }

        return Task.CompletedTask;
    }

    public Task RemoveSubscriptionAsync(string clientId, string filter)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return Disposed();
            }

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
            if (_disposed)
            {
                return Disposed();
            }

            Get(clientId).ReceivedIds.Add(id);
        }

        return Task.CompletedTask;
    }

    public Task RemoveReceivedIdAsync(string clientId, int id)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return Disposed();
            }

            if (_sessions.TryGetValue(clientId, out var s))
            {
                s.ReceivedIds.Remove(id);
            }
        }

        return Task.CompletedTask;
    }

    public Task EnqueueAsync(Message message, IReadOnlyList<QueueTarget> targets, ReceivedId receivedId)
    {
        lock (_lock)
        {
            EnqueueAsync(message, targets);
            AddReceivedIdAsync(receivedId.ClientId, receivedId.Id);
        }

        return Task.CompletedTask;
    }

    public Task EnqueueAsync(Message message, IReadOnlyList<QueueTarget> targets)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return Disposed();
            }

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
            if (_disposed)
            {
                return Disposed();
            }

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
            if (_disposed)
            {
                return Disposed();
            }

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
            return _disposed
                ? Task.FromException<IReadOnlyList<QueuedRecord>>(new ObjectDisposedException(nameof(MemoryBrokerStore)))
                : Task.FromResult<IReadOnlyList<QueuedRecord>>(_sessions.TryGetValue(clientId, out var s) ? [.. s.Queue.Values] : []);
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
