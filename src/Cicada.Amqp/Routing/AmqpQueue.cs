using Cicada.Core;
using Cicada.Core.Sessions;

namespace Cicada.Amqp.Routing;

/// <summary>
/// An AMQP queue: a Core session that never disconnects (its inbox, durable when the queue is),
/// plus the consumers it dispatches to round-robin. Requeued messages (nack/reject with requeue,
/// a closed channel's unacknowledged ones) wait in a local list ahead of the session's queue and
/// keep their Core in-flight id, so a stored one stays stored until it is finally acknowledged.
/// </summary>
internal sealed partial class AmqpQueue : IClientConnection, IThreadPoolWorkItem
{
    public const string ClientIdPrefix = "amqp:q:";

    private const int BatchSize = 64;

    // Core caps a session's in-flight ids at 65,535: a queue's unacknowledged messages stay under that.
    private const int MaxCoreInflight = 65_535;

    private readonly Lock _lock = new();
    private readonly List<Consumer> _consumers = [];
    private readonly LinkedList<QueuedMessage> _requeued = new();
    private readonly Dictionary<string, int> _topicFilters = new(StringComparer.Ordinal);
    private readonly List<string> _topicKeys = [];
    private readonly TimeProvider _time;
    private int _next;
    private int _wideKeys;
    private DrainSignal _drain;

    public AmqpQueue(string name, bool durable, bool exclusive, bool autoDelete, Dictionary<string, object?>? arguments,
        object? owner, TimeProvider time)
    {
        Name = name;
        Durable = durable;
        Exclusive = exclusive;
        AutoDelete = autoDelete;
        Arguments = arguments;
        Owner = owner;
        _time = time;
        Limits = QueueLimits.Read(arguments);
    }

    public string Name { get; }
    public bool Durable { get; }
    public bool Exclusive { get; }
    public bool AutoDelete { get; }
    public Dictionary<string, object?>? Arguments { get; }

    /// <summary>The connection of an exclusive queue (§queue.declare exclusive); null otherwise.</summary>
    public object? Owner { get; }

    public string ClientId => ClientIdPrefix + Name;

    public ClientLink Link { get; set; } = null!;

    public Session Session => Link.Session;

    public bool Deleted { get; private set; }

    /// <summary>Set once a consumer has been added: an auto-delete queue goes when its last consumer does (§queue.declare auto-delete).</summary>
    public bool HadConsumer { get; private set; }

    public uint MessageCount
    {
        get
        {
            lock (_lock)
            {
                DropExpiredLocked();
                return (uint)(Session.PendingCount + _requeued.Count);
            }
        }
    }

    public uint ConsumerCount
    {
        get
        {
            lock (_lock)
            {
                return (uint)_consumers.Count;
            }
        }
    }

    public bool HasExclusiveConsumer
    {
        get
        {
            lock (_lock)
            {
                return _consumers.Any(c => c.Exclusive);
            }
        }
    }

    public void AddConsumer(Consumer consumer)
    {
        lock (_lock)
        {
            _consumers.Add(consumer);
            HadConsumer = true;
        }

        OnDeliveriesPending();
    }

    /// <summary>Removes a consumer; returns how many are left.</summary>
    public int RemoveConsumer(Consumer consumer)
    {
        Touch(); // x-expires counts from the last consumer's going
        lock (_lock)
        {
            _consumers.Remove(consumer);
            return _consumers.Count;
        }
    }

    /// <summary>Marks the queue deleted and returns its consumers (to be told) and its ready message count.</summary>
    public (List<Consumer> Consumers, uint Messages) MarkDeleted()
    {
        lock (_lock)
        {
            Deleted = true;
            var consumers = _consumers.ToList();
            _consumers.Clear();
            var count = (uint)(Session.PendingCount + _requeued.Count);
            _requeued.Clear();
            return (consumers, count);
        }
    }

    /// <summary>Tracks an amq.topic binding's filter; true when the filter is new for this queue (subscribe in Core).</summary>
    public bool AddTopicFilter(string filter, string bindingKey, bool exact)
    {
        lock (_lock)
        {
            _topicKeys.Add(bindingKey);
            if (!exact)
            {
                _wideKeys++;
            }

            _topicFilters.TryGetValue(filter, out var count);
            _topicFilters[filter] = count + 1;
            return count == 0;
        }
    }

    /// <summary>The MQTT filters of the queue's amq.topic bindings: what a consumer of the queue reads.</summary>
    public string[] TopicFilters()
    {
        lock (_lock)
        {
            return [.. _topicFilters.Keys];
        }
    }

    /// <summary>Forgets one amq.topic binding's filter; true when no binding uses it any more (unsubscribe in Core).</summary>
    public bool RemoveTopicFilter(string filter, string bindingKey, bool exact)
    {
        lock (_lock)
        {
            _topicKeys.Remove(bindingKey);
            if (!exact)
            {
                _wideKeys--;
            }

            if (!_topicFilters.TryGetValue(filter, out var count))
            {
                return false;
            }

            if (count <= 1)
            {
                _topicFilters.Remove(filter);
                return true;
            }

            _topicFilters[filter] = count - 1;
            return false;
        }
    }

    /// <summary>Puts messages back ahead of the rest, in their original order, marked redelivered (§basic.reject requeue).</summary>
    public void Requeue(IEnumerable<QueuedMessage> messages)
    {
        lock (_lock)
        {
            if (Deleted)
            {
                return;
            }

            LinkedListNode<QueuedMessage>? after = null;
            foreach (var m in messages)
            {
                var redelivered = m with { Redelivered = true };
                after = after is null ? _requeued.AddFirst(redelivered) : _requeued.AddAfter(after, redelivered);
            }
        }

        OnDeliveriesPending();
    }

    /// <summary>Discards a message for good (acknowledged, or rejected without requeue).</summary>
    public void Complete(in QueuedMessage message)
    {
        if (message.CoreId != 0)
        {
            Session.Complete(message.CoreId);
        }
    }

    /// <summary>Drops every ready message (queue.purge); unacknowledged ones stay (§queue.purge).</summary>
    public uint Purge()
    {
        List<QueuedMessage> requeued;
        lock (_lock)
        {
            requeued = [.. _requeued];
            _requeued.Clear();
        }

        foreach (var m in requeued)
        {
            Complete(m);
        }

        return (uint)(requeued.Count + Session.Purge());
    }

    /// <summary>Takes the next ready message (basic.get, or a consumer's turn).</summary>
    public bool TryTake(out QueuedMessage message)
    {
        Touch(); // basic.get uses the queue (x-expires)
        lock (_lock)
        {
            return TryTakeLocked(out message, forConsumer: false);
        }
    }

    private bool TryTakeLocked(out QueuedMessage message, bool forConsumer)
    {
        if (Deleted)
        {
            message = default;
            return false;
        }

        var now = _time.GetUtcNow();
        while (_requeued.First is { } first)
        {
            _requeued.RemoveFirst();
            message = first.Value;
            if (!IsExpired(message.Message, now, forConsumer))
            {
                return true;
            }

            Complete(message);
        }

        while (Session.TryTakeNext(MaxCoreInflight, now, out var delivery, out var id))
        {
            message = new QueuedMessage(delivery, id, false);
            if (IsExpired(delivery.Message, now, forConsumer))
            {
                // x-message-ttl: an expired message is never delivered (RabbitMQ's per-queue TTL).
                Complete(message);
                continue;
            }

            if (_wideKeys > 0 && !MatchesTopicKeys(delivery.Message))
            {
                // Reached through a widened Core filter (an AMQP key MQTT cannot express) but not the key itself.
                Complete(message);
                continue;
            }

            return true;
        }

        message = default;
        return false;
    }

    private bool MatchesTopicKeys(Message message)
    {
        if (MessageAddress.IsTargeted(message.Topic))
        {
            return true;
        }

        // Core matched a (possibly widened) filter; the AMQP keys decide (exact ones agree with their filters).
        var routingKey = TopicMapping.ToRoutingKey(message.Topic);
        foreach (var key in _topicKeys)
        {
            if (TopicMatcher.Matches(key, routingKey))
            {
                return true;
            }
        }

        return false;
    }

    public void OnDeliveriesPending()
    {
        if (Limits.MaxLength is not null)
        {
            EnforceMaxLength();
        }

        if (_drain.Request())
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>The queue's session is the queue's own: nothing takes it over; at shutdown the process ends anyway.</summary>
    public void Close(CloseReason reason)
    {
    }

    void IThreadPoolWorkItem.Execute() => _ = DrainAsync();

    private async Task DrainAsync()
    {
        var batch = new List<(Consumer Consumer, QueuedMessage Message)>(BatchSize);
        var channels = new HashSet<IConsumerChannel>();
        while (true)
        {
            _drain.BeginPass();
            try
            {
                while (true)
                {
                    Pick(batch);
                    if (batch.Count == 0)
                    {
                        break;
                    }

                    List<QueuedMessage>? undelivered = null;
                    foreach (var (consumer, message) in batch)
                    {
                        bool sent;
                        try
                        {
                            sent = await consumer.Channel.DeliverAsync(consumer, message);
                        }
                        catch (Exception ex) when (ex is InvalidOperationException or IOException or OperationCanceledException or ObjectDisposedException)
                        {
                            sent = false;
                        }

                        if (sent)
                        {
                            channels.Add(consumer.Channel);
                        }
                        else
                        {
                            consumer.Release();
                            (undelivered ??= []).Add(message);
                        }
                    }

                    batch.Clear();
                    foreach (var channel in channels)
                    {
                        try
                        {
                            await channel.FlushAsync();
                        }
                        catch (Exception ex) when (ex is InvalidOperationException or IOException or OperationCanceledException or ObjectDisposedException)
                        {
                        }
                    }

                    channels.Clear();
                    if (undelivered is not null)
                    {
                        RequeueFront(undelivered);
                    }
                }
            }
            catch (Exception)
            {
                batch.Clear();
            }

            if (_drain.TryEnd())
            {
                return;
            }
        }
    }

    /// <summary>Messages that never reached their consumer go back unchanged (not redelivered: nobody saw them).</summary>
    private void RequeueFront(List<QueuedMessage> messages)
    {
        lock (_lock)
        {
            for (var i = messages.Count - 1; i >= 0; i--)
            {
                _requeued.AddFirst(messages[i]);
            }
        }
    }

    /// <summary>Picks ready messages for consumers with room, round-robin (§basic.consume: one queue, many consumers).</summary>
    private void Pick(List<(Consumer, QueuedMessage)> batch)
    {
        lock (_lock)
        {
            while (batch.Count < BatchSize && _consumers.Count > 0)
            {
                Consumer? chosen = null;
                for (var i = 0; i < _consumers.Count; i++)
                {
                    var candidate = _consumers[(_next + i) % _consumers.Count];
                    if (candidate.TryReserve())
                    {
                        chosen = candidate;
                        _next = (_next + i + 1) % _consumers.Count;
                        break;
                    }
                }

                if (chosen is null)
                {
                    return;
                }

                if (!TryTakeLocked(out var message, forConsumer: true))
                {
                    chosen.Release();
                    return;
                }

                batch.Add((chosen, message));
            }
        }
    }
}

/// <summary>
/// How a message routed by an exchange other than amq.topic names its exchange and routing key:
/// in <see cref="Message.Topic"/>, behind a '#', which no published topic name can hold
/// (MQTT-4.7.1-1), so it never collides with the topic space and survives the store as is.
/// </summary>
internal static class MessageAddress
{
    public static string Encode(string exchange, string routingKey) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"#{exchange.Length}#{exchange}{routingKey}");

    public static bool IsTargeted(string topic) => topic.StartsWith('#');

    /// <summary>Exchange and routing key of a delivered message; topic-space messages come from amq.topic.</summary>
    public static (string Exchange, string RoutingKey) Decode(string topic)
    {
        if (!IsTargeted(topic))
        {
            return (VirtualHost.TopicExchange, TopicMapping.ToRoutingKey(topic));
        }

        var hash = topic.IndexOf('#', 1);
        if (hash < 0 || !int.TryParse(topic.AsSpan(1, hash - 1), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var length) || hash + 1 + length > topic.Length)
        {
            return (string.Empty, topic);
        }

        return (topic.Substring(hash + 1, length), topic[(hash + 1 + length)..]);
    }
}
