using Cicada.Core.Sessions;
using Cicada.Core.Storage;
using Cicada.Core.Topics;

namespace Cicada.Core;

public sealed partial class Broker
{
    private sealed class RouteScratch
    {
        public readonly List<Subscription> Matches = [];
        public readonly List<(Session Session, Delivery Delivery)> Deliveries = [];
        public readonly Dictionary<Session, int> Seen = [];
    }

    /// <summary>
    /// Routes a message to every matching subscription and updates the retained store. The task
    /// completes when everything the message changed durably is on disk (retained message,
    /// entries queued for persistent sessions): an edge acknowledges QoS 1/2 only after it.
    /// </summary>
    public Task PublishAsync(Message message) => Combine(Publish(message, null, out _, out var wait), wait);

    /// <summary>
    /// <see cref="PublishAsync(Message)"/> with the two things its task waits for apart: the returned
    /// task completes when the message is durable; <paramref name="backpressure"/>, null unless a
    /// subscriber's queue is backed up (Broker:OverflowPolicy backpressure), completes when the
    /// publisher may go on. An edge that has nothing to acknowledge (MQTT QoS 0) waits for the latter only.
    /// </summary>
    public Task PublishPacedAsync(Message message, out Task? backpressure) => Publish(message, null, out _, out backpressure);

    /// <summary>
    /// <see cref="PublishAsync(Message)"/>, also telling whether any subscription matched the topic
    /// (an MQTT 5 edge answers 0x10 No matching subscribers when none did, §3.4.2.1). Known once the
    /// synchronous routing is done, so it costs nothing.
    /// </summary>
    public Task PublishAsync(Message message, out bool matched) => Combine(Publish(message, null, out matched, out var wait), wait);

    /// <summary>
    /// <see cref="PublishAsync"/> for the first copy of an exactly-once publish whose id
    /// <paramref name="receiver"/> has just recorded (<see cref="Session.TryAddReceivedId(int)"/>):
    /// a persistent session's id becomes durable in the same write as the message, never before it.
    /// </summary>
    public Task PublishExactlyOnceAsync(Message message, Session receiver, int id) =>
        PublishExactlyOnceAsync(message, receiver, id, out _);

    /// <inheritdoc cref="PublishExactlyOnceAsync(Message, Session, int)"/>
    /// <param name="matched">Whether any subscription matched the topic, as in <see cref="PublishAsync(Message, out bool)"/>.</param>
    public Task PublishExactlyOnceAsync(Message message, Session receiver, int id, out bool matched) =>
        Combine(Publish(message, receiver.IsPersistent ? new ReceivedId(receiver.ClientId, id) : null, out matched, out var wait), wait);

    private static Task Combine(Task durable, Task? wait) =>
        wait is null ? durable : durable.IsCompleted ? wait : Task.WhenAll(durable, wait);

    private Task Publish(Message message, ReceivedId? receivedId, out bool matched, out Task? throttle)
    {
        _metrics.MessagesReceived.Add(1);
        var retainTask = Task.CompletedTask;
        if (message.Retain)
        {
            if (message.Payload.IsEmpty)
            {
                // MQTT-3.3.1-10/11: an empty retained message clears the topic and is not stored.
                if (_retained.Remove(message.Topic))
                {
                    retainTask = _store.ClearRetainedAsync(message.Topic);
                }
            }
            else
            {
                _retained.Set(message);
                retainTask = _store.SetRetainedAsync(message);
            }
        }

        var scratch = _threadScratch ??= new RouteScratch();
        var deliveries = scratch.Deliveries;
        try
        {
            _subscriptions.Match(message.Topic, scratch.Matches);
            matched = scratch.Matches.Count > 0;
            Collect(message, scratch);

            List<QueueTarget>? targets = null;
            foreach (var (session, delivery) in deliveries)
            {
                if (delivery.Seq != 0)
                {
                    (targets ??= []).Add(new QueueTarget(session.ClientId, delivery.Seq, delivery.Qos));
                }
            }

            // Stored before it is queued in memory: an acknowledgement's removal can then never
            // reach the single writer ahead of the entry it removes.
            var queueTask = (targets, receivedId) switch
            {
                (null, null) => Task.CompletedTask,
                (null, { } id) => _store.AddReceivedIdAsync(id.ClientId, id.Id),
                (_, null) => _store.EnqueueAsync(message, targets),
                (_, { } id) => _store.EnqueueAsync(message, targets, id),
            };
            Task? wait = null;
            var backpressure = _backpressure;
            foreach (var (session, delivery) in deliveries)
            {
                var link = session.Link;
                // Only a connected session drains; an offline one keeps the plain bounded queue.
                if (session.Enqueue(delivery, link is null ? null : backpressure, out var slow) is > 0 and var dropped)
                {
                    CountDrop(session, dropped);
                }

                if (slow is not null)
                {
                    wait = Throttled(message, session, wait, slow);
                }

                link?.Connection.OnDeliveriesPending();
            }

            throttle = wait;
            return retainTask.IsCompleted ? queueTask
                : queueTask.IsCompleted ? retainTask
                : Task.WhenAll(retainTask, queueTask);
        }
        finally
        {
            scratch.Matches.Clear();
            deliveries.Clear();
            scratch.Seen.Clear();
        }
    }

    /// <summary>
    /// The slow path: <paramref name="session"/>'s queue is above its high-water mark. A client's own
    /// subscription never makes it wait (its read side would wait on its write side: a client that
    /// writes before it reads would only be freed by the timeout, every time).
    /// </summary>
    private Task? Throttled(Message message, Session session, Task? wait, Task slow)
    {
        if (message.OriginClientId is { } origin && string.Equals(origin, session.ClientId, StringComparison.Ordinal))
        {
            return wait;
        }

        _backpressure!.OnThrottled(session);
        return wait is null || ReferenceEquals(wait, slow) ? slow : Task.WhenAll(wait, slow);
    }

    private void CountDrop(Session session, int dropped)
    {
        _metrics.MessagesDropped.Add(dropped);
        if (session.OverflowStarted)
        {
            session.OverflowStarted = false;
            LogOverflow(session.ClientId, _options.MaxQueuedMessages, _options.MaxQueuedBytes);
        }
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Warning,
        Message = "Session {ClientId} has {Max} messages or {MaxBytes} payload bytes queued: dropping the oldest until it catches up (Broker:MaxQueuedMessages, Broker:MaxQueuedBytes; 0 bytes = no byte limit)")]
    private partial void LogOverflow(string clientId, int max, long maxBytes);

    private static void Collect(Message message, RouteScratch scratch)
    {
        var matches = scratch.Matches;
        var deliveries = scratch.Deliveries;
        for (var i = 0; i < matches.Count; i++)
        {
            var sub = matches[i];
            if (sub.Subscriber is not Session session)
            {
                continue;
            }

            var options = sub.Options;
            if (options.NoLocal && message.OriginClientId == session.ClientId)
            {
                continue;
            }

            var qos = (QoS)Math.Min((byte)message.Qos, (byte)options.MaxQos);
            var retain = options.RetainAsPublished && message.Retain;

            // Overlapping subscriptions of one session: one copy at the highest QoS (MQTT-3.3.5-1),
            // carrying every matching subscription identifier (MQTT-3.3.4-5).
            // Only a session with several subscriptions can match twice: the others skip the lookup.
            var mayOverlap = matches.Count > 1 && session.SubscriptionCount > 1;
            if (mayOverlap && scratch.Seen.TryGetValue(session, out var index))
            {
                var prev = deliveries[index].Delivery;
                var ids = prev.MoreSubscriptionIds;
                if (options.SubscriptionId != 0)
                {
                    ids = ids is null ? [options.SubscriptionId] : [.. ids, options.SubscriptionId];
                }

                deliveries[index] = (session, prev with
                {
                    Qos = (QoS)Math.Max((byte)qos, (byte)prev.Qos),
                    Retain = retain || prev.Retain,
                    MoreSubscriptionIds = ids,
                });
                continue;
            }

            if (mayOverlap)
            {
                scratch.Seen[session] = deliveries.Count;
            }

            deliveries.Add((session, new Delivery(message, qos, retain, 0, sub)));
        }

        // Offline persistent sessions keep QoS 1/2 only; stored ones get a queue position.
        for (var i = deliveries.Count - 1; i >= 0; i--)
        {
            var (session, delivery) = deliveries[i];
            var online = session.Link is not null;
            if (!online && delivery.Qos == QoS.AtMostOnce)
            {
                deliveries.RemoveAt(i);
                continue;
            }

            if (session.IsPersistent && delivery.Qos != QoS.AtMostOnce)
            {
                deliveries[i] = (session, delivery with { Seq = session.NextSeq() });
            }
        }
    }
}
