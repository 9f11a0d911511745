using Cicada.Core.Storage;
using Cicada.Core.Topics;

namespace Cicada.Core.Sessions;

/// <summary>
/// A client's session (MQTT-3.1.2-4): its subscriptions, its bounded queue of pending deliveries,
/// its in-flight deliveries and the exactly-once ids it has received. Outlives connections when
/// persistent. Thread-safe: the router enqueues from publishers' threads while the edge drains.
/// </summary>
public sealed partial class Session : ISubscriber
{
    private readonly Lock _lock = new();
    private readonly Queue<Delivery> _pending = new();
    // Created on first use: an idle connection's session should cost little (issue: memory per connection).
    private Dictionary<int, InflightDelivery>? _inflightMap;
    private HashSet<int>? _receivedIdSet;
    private Dictionary<string, SubscriptionOptions>? _subscriptions;
    private readonly IBrokerStore _store;
    private readonly int _maxQueued;
    private readonly long _maxQueuedBytes;
    private long _pendingBytes;
    private bool _overflowing;
    private long _nextSeq;
    private long _nextOrder;
    private int _nextId;

    private volatile uint _expirySeconds;

    internal Session(string clientId, uint expirySeconds, IBrokerStore store, int maxQueued, long maxQueuedBytes = 0)
    {
        ClientId = clientId;
        _expirySeconds = expirySeconds;
        _store = store;
        _maxQueued = maxQueued;
        _maxQueuedBytes = maxQueuedBytes;
    }

    public string ClientId { get; }

    /// <summary>Survives its connection (MQTT 3.1.1 CleanSession = 0, MQTT 5 Session Expiry &gt; 0); its QoS 1/2 state is stored.</summary>
    public bool IsPersistent => _expirySeconds > 0;

    /// <summary>
    /// Seconds the session outlives its connection (MQTT 5 §3.1.2.11.2): 0 = ends with it,
    /// <see cref="uint.MaxValue"/> = never expires.
    /// </summary>
    public uint ExpirySeconds
    {
        get => _expirySeconds;
        internal set => _expirySeconds = value;
    }

    /// <summary>A will waiting for its delay (MQTT 5 §3.1.3.2.2); cancelled when a connection resumes the session.</summary>
    internal Will? PendingWill { get; set; }

    internal DateTimeOffset? WillDueAt { get; set; }

    /// <summary>The store holds a record of this session (to delete when it ends).</summary>
    internal bool Stored { get; set; }

    /// <summary>How many filters this session subscribes to (read without the lock on the routing path).</summary>
    internal volatile int SubscriptionCount;

    /// <summary>Filters this session subscribes to, with their options.</summary>
    public IReadOnlyDictionary<string, SubscriptionOptions> Subscriptions
    {
        get
        {
            lock (_lock)
            {
                return _subscriptions is null
                    ? new Dictionary<string, SubscriptionOptions>()
                    : new Dictionary<string, SubscriptionOptions>(_subscriptions, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>Adds or replaces a subscription; true when it replaced one.</summary>
    internal bool SetSubscription(string filter, SubscriptionOptions options)
    {
        lock (_lock)
        {
            _subscriptions ??= new Dictionary<string, SubscriptionOptions>(StringComparer.Ordinal);
            var existed = _subscriptions.ContainsKey(filter);
            _subscriptions[filter] = options;
            SubscriptionCount = _subscriptions.Count;
            return existed;
        }
    }

    internal bool RemoveSubscription(string filter)
    {
        lock (_lock)
        {
            if (_subscriptions is null || !_subscriptions.Remove(filter))
            {
                return false;
            }

            SubscriptionCount = _subscriptions.Count;
            return true;
        }
    }

    /// <summary>Drops every subscription; returns their filters.</summary>
    internal string[] ClearSubscriptions()
    {
        lock (_lock)
        {
            var filters = _subscriptions is null ? [] : _subscriptions.Keys.ToArray();
            _subscriptions = null;
            SubscriptionCount = 0;
            return filters;
        }
    }

    public bool HasSubscription(string filter)
    {
        lock (_lock)
        {
            return _subscriptions?.ContainsKey(filter) == true;
        }
    }

    /// <summary>The attached connection, if any.</summary>
    internal ClientLink? Link { get; set; }

    internal DateTimeOffset? DisconnectedAt { get; set; }

    /// <summary>Set when an overflow episode begins; the broker logs it once and clears it.</summary>
    internal bool OverflowStarted { get; set; }

    /// <summary>Deliveries dropped because the queue was full (overflow policy: drop oldest).</summary>
    public long Dropped { get; private set; }

    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    public int InflightCount
    {
        get
        {
            lock (_lock)
            {
                return _inflightMap?.Count ?? 0;
            }
        }
    }

    internal long NextSeq() => Interlocked.Increment(ref _nextSeq);

    /// <summary>Payload bytes of the pending (not in-flight) deliveries.</summary>
    public long PendingBytes
    {
        get
        {
            lock (_lock)
            {
                return _pendingBytes;
            }
        }
    }

    /// <summary>
    /// Queues a delivery; returns how many of the oldest had to be dropped for it (overflow policy:
    /// drop oldest) when the queue holds more than the message or payload-byte limit: 0 normally.
    /// The newest is always kept, so one message larger than the byte limit still gets through
    /// alone. <see cref="OverflowStarted"/> tells the first drop of an episode.
    /// </summary>
    internal int Enqueue(in Delivery delivery) => Enqueue(delivery, null, out _);

    /// <summary>
    /// As <see cref="Enqueue(in Delivery)"/>; with a <paramref name="backpressure"/> policy,
    /// <paramref name="wait"/> is the task the publisher should wait on before publishing more,
    /// null when the queue is below its high-water mark or the session is stuck.
    /// </summary>
    internal int Enqueue(in Delivery delivery, BackpressurePolicy? backpressure, out Task? wait)
    {
        Delivery first;
        List<Delivery>? more = null;
        var count = 0;
        lock (_lock)
        {
            _pending.Enqueue(delivery);
            _pendingBytes += delivery.Message.Payload.Length;
            wait = backpressure is not null && AboveHighWaterLocked() ? ThrottleLocked(backpressure) : null;
            if (!OverLimitLocked())
            {
                return 0;
            }

            first = DequeueLocked();
            count = 1;
            while (OverLimitLocked())
            {
                (more ??= []).Add(DequeueLocked());
                count++;
            }

            Dropped += count;
            if (!_overflowing)
            {
                _overflowing = true;
                OverflowStarted = true;
            }
        }

        Forget(first);
        foreach (var dropped in more ?? [])
        {
            Forget(dropped);
        }

        return count;

        void Forget(in Delivery dropped)
        {
            if (dropped.Seq != 0)
            {
                _store.RemoveDeliveryAsync(ClientId, dropped.Seq).Forget();
            }
        }
    }

    private bool OverLimitLocked() =>
        _pending.Count > 1 && (_pending.Count > _maxQueued || (_maxQueuedBytes > 0 && _pendingBytes > _maxQueuedBytes));

    private Delivery DequeueLocked()
    {
        var delivery = _pending.Dequeue();
        _pendingBytes -= delivery.Message.Payload.Length;
        return delivery;
    }

    /// <summary>
    /// Takes the next pending delivery. A QoS 1/2 one is given an unused id and recorded in flight,
    /// unless <paramref name="maxInflight"/> deliveries are already in flight (then it stays queued).
    /// Expired messages are discarded on the way (MQTT 5 §3.3.2.3.3).
    /// </summary>
    public bool TryTakeNext(int maxInflight, DateTimeOffset now, out Delivery delivery, out int id)
    {
        lock (_lock)
        {
            while (_pending.TryPeek(out delivery))
            {
                if (delivery.Message.IsExpired(now))
                {
                    DequeueLocked();
                    if (_throttle is not null)
                    {
                        TookLocked();
                    }
                    if (delivery.Seq != 0)
                    {
                        _store.RemoveDeliveryAsync(ClientId, delivery.Seq).Forget();
                    }

                    continue;
                }

                if (_overflowing && _pending.Count < _maxQueued / 2 && (_maxQueuedBytes == 0 || _pendingBytes < _maxQueuedBytes / 2))
                {
                    _overflowing = false; // the episode is over once the queue has half drained
                }

                if (delivery.Qos == QoS.AtMostOnce)
                {
                    DequeueLocked();
                    if (_throttle is not null)
                    {
                        TookLocked();
                    }
                    id = 0;
                    return true;
                }

                var inflight = _inflightMap ??= [];
                if (inflight.Count >= maxInflight || inflight.Count >= 65_535)
                {
                    break;
                }

                // A stored delivery's id follows from its queue position, so the same message gets
                // the same id after a crash even when its "sent with id" write was not yet durable:
                // a QoS 2 receiver that already holds the id then recognises the resend instead of
                // delivering it twice (MQTT-4.4.0-1 "original Packet Identifiers", MQTT-4.3.3-9).
                // If that id is still held by an older delivery (65,535 positions back), wait for it.
                var stored = delivery.Seq != 0 ? IdForSeq(delivery.Seq) : 0;
                if (stored != 0 && inflight.ContainsKey(stored))
                {
                    break;
                }

                DequeueLocked();
                if (_throttle is not null)
                {
                    TookLocked();
                }

                id = stored != 0 ? stored : AllocateId();
                inflight.Add(id, new InflightDelivery(id, delivery, DeliveryState.Sent, ++_nextOrder));
                if (delivery.Seq != 0)
                {
                    _store.UpdateDeliveryAsync(ClientId, delivery.Seq, id, DeliveryState.Sent).Forget();
                }

                return true;
            }
        }

        delivery = default;
        id = 0;
        return false;
    }

    /// <summary>Packet ids are 1..65535 (MQTT-2.3.1-1); queue positions start at 1.</summary>
    internal static int IdForSeq(long seq) => (int)((seq - 1) % 65_535) + 1;

    private int AllocateId()
    {
        // Packet ids are 1..65535 and unique among in-flight deliveries (MQTT-2.3.1-2).
        do
        {
            _nextId = _nextId >= 65_535 ? 1 : _nextId + 1;
        }
        while (_inflightMap!.ContainsKey(_nextId));

        return _nextId;
    }

    /// <summary>Completes an in-flight delivery (PUBACK for QoS 1, PUBCOMP for QoS 2); false when the id is unknown.</summary>
    public bool Complete(int id)
    {
        InflightDelivery done;
        lock (_lock)
        {
            if (_inflightMap is null || !_inflightMap.Remove(id, out done))
            {
                return false;
            }
        }

        if (done.Delivery.Seq != 0)
        {
            _store.RemoveDeliveryAsync(ClientId, done.Delivery.Seq).Forget();
        }

        return true;
    }

    /// <summary>Marks a QoS 2 delivery as received by the client (PUBREC → PUBREL, MQTT-4.3.3); false when unknown.</summary>
    public bool Release(int id)
    {
        var released = Release(id, out var durable);
        durable.Forget();
        return released;
    }

    /// <summary>
    /// As <see cref="Release(int)"/>; <paramref name="durable"/> completes when the Released state is
    /// stored. The PUBREL must wait for it: once the client has answered PUBCOMP it forgets the id,
    /// so a crash that lost the state would make the broker resend the PUBLISH and the client
    /// deliver it twice (MQTT-4.3.3, exactly once across a restart).
    /// </summary>
    public bool Release(int id, out Task durable)
    {
        durable = Task.CompletedTask;
        InflightDelivery entry;
        lock (_lock)
        {
            if (_inflightMap is null || !_inflightMap.TryGetValue(id, out entry) || entry.Delivery.Qos != QoS.ExactlyOnce)
            {
                return false;
            }

            entry = entry with { State = DeliveryState.Released };
            _inflightMap[id] = entry;
        }

        if (entry.Delivery.Seq != 0)
        {
            durable = _store.UpdateDeliveryAsync(ClientId, entry.Delivery.Seq, id, DeliveryState.Released);
        }

        return true;
    }

    /// <summary>In-flight deliveries in the order they were first sent, to resend on reconnect (MQTT-4.4.0-1).</summary>
    public InflightDelivery[] InflightSnapshot()
    {
        lock (_lock)
        {
            return InflightSnapshotLocked();
        }
    }

    private InflightDelivery[] InflightSnapshotLocked()
    {
        if (_inflightMap is null)
        {
            return [];
        }

        var all = _inflightMap.Values.ToArray();
        Array.Sort(all, static (a, b) => a.Order.CompareTo(b.Order));
        return all;
    }

    /// <summary>
    /// Records an inbound exactly-once id in memory only; <see cref="Broker.PublishExactlyOnceAsync"/>
    /// stores it together with the message. False when it is already recorded: the message was
    /// routed once already and must not be again (MQTT-4.3.3-2).
    /// </summary>
    public bool TryAddReceivedId(int id)
    {
        lock (_lock)
        {
            return (_receivedIdSet ??= []).Add(id);
        }
    }

    /// <summary>
    /// Records an inbound exactly-once id (QoS 2 PUBLISH before PUBREL) and stores it on its own:
    /// for an id whose message is not routed. False when it is already recorded (MQTT-4.3.3-2).
    /// </summary>
    public bool TryAddReceivedId(int id, out Task durable)
    {
        lock (_lock)
        {
            if (!(_receivedIdSet ??= []).Add(id))
            {
                durable = Task.CompletedTask;
                return false;
            }
        }

        durable = IsPersistent ? _store.AddReceivedIdAsync(ClientId, id) : Task.CompletedTask;
        return true;
    }

    /// <summary>Forgets an inbound exactly-once id (PUBREL received, MQTT-4.3.3); false when it was not held.</summary>
    public bool RemoveReceivedId(int id)
    {
        bool removed;
        lock (_lock)
        {
            removed = _receivedIdSet?.Remove(id) == true;
        }

        if (removed && IsPersistent)
        {
            _store.RemoveReceivedIdAsync(ClientId, id).Forget();
        }

        return removed;
    }

    /// <summary>Puts back state loaded from the store at startup.</summary>
    internal void Restore(IReadOnlyList<QueuedRecord> queue, IReadOnlyList<int> receivedIds)
    {
        lock (_lock)
        {
            foreach (var id in receivedIds)
            {
                (_receivedIdSet ??= []).Add(id);
            }

            foreach (var r in queue)
            {
                var delivery = new Delivery(r.Message, r.Qos, false, r.Seq);
                _nextSeq = Math.Max(_nextSeq, r.Seq);
                if (r.State != DeliveryState.Queued && r.PacketId is > 0 and <= 65_535 && !(_inflightMap ??= []).ContainsKey(r.PacketId))
                {
                    _inflightMap.Add(r.PacketId, new InflightDelivery(r.PacketId, delivery, r.State, ++_nextOrder));
                }
                else
                {
                    _pending.Enqueue(delivery);
                    _pendingBytes += delivery.Message.Payload.Length;
                }
            }
        }
    }

    /// <summary>Drops all state when the session ends; returns the deliveries it still held, in order.</summary>
    internal List<Delivery> Clear()
    {
        lock (_lock)
        {
            var held = new List<Delivery>((_inflightMap?.Count ?? 0) + _pending.Count);
            foreach (var inflight in InflightSnapshotLocked())
            {
                // A QoS 2 delivery that was sent may have reached the client: handing it to another
                // member of a shared subscription could deliver it twice (MQTT-4.8.2-5 forbids it);
                // a QoS 1 one should go to another member (MQTT 5 §4.8.2).
                if (inflight.State == DeliveryState.Sent && inflight.Delivery.Qos != QoS.ExactlyOnce)
                {
                    held.Add(inflight.Delivery);
                }
            }

            held.AddRange(_pending);
            _pending.Clear();
            _pendingBytes = 0;
            if (_throttle is { } throttle)
            {
                OpenGateLocked(throttle);
            }

            _inflightMap = null;
            _receivedIdSet = null;
            return held;
        }
    }

    /// <summary>Whether an inbound exactly-once id is held (a re-sent QoS 2 PUBLISH is not a new one).</summary>
    public bool HasReceivedId(int id)
    {
        lock (_lock)
        {
            return _receivedIdSet?.Contains(id) == true;
        }
    }

    /// <summary>Inbound exactly-once ids not yet released (flow control: our Receive Maximum).</summary>
    public int ReceivedIdCount
    {
        get
        {
            lock (_lock)
            {
                return _receivedIdSet?.Count ?? 0;
            }
        }
    }

    public bool IsConnected => Link is not null;
}
