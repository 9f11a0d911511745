using Cicada.Core.Sessions;
using Cicada.Core.Storage;

namespace Cicada.Core;

public sealed partial class Broker
{
    /// <summary>
    /// Queues <paramref name="message"/> for the given sessions directly, without the topic tree:
    /// for edges that route by their own rules (point-to-point, fan-out groups, header matching)
    /// onto Core sessions. Durability and overflow are those of <see cref="PublishAsync"/>: the task
    /// completes once the entries for persistent sessions are stored. Retain is ignored.
    /// </summary>
    public Task EnqueueAsync(Message message, IReadOnlyList<Session> sessions)
    {
        _metrics.MessagesReceived.Add(1);
        if (sessions.Count == 0)
        {
            return Task.CompletedTask;
        }

        var deliveries = new (Session Session, Delivery Delivery)[sessions.Count];
        List<QueueTarget>? targets = null;
        var count = 0;
        foreach (var session in sessions)
        {
            // As in routing: an offline session keeps QoS 1/2 only; a persistent one stores them.
            if (session.Link is null && message.Qos == QoS.AtMostOnce)
            {
                continue;
            }

            var seq = session.IsPersistent && message.Qos != QoS.AtMostOnce ? session.NextSeq() : 0;
            if (seq != 0)
            {
                (targets ??= []).Add(new QueueTarget(session.ClientId, seq, message.Qos));
            }

            deliveries[count++] = (session, new Delivery(message, message.Qos, false, seq));
        }

        // Stored before queued in memory, as in PublishAsync: a removal can never overtake its entry.
        var stored = targets is null ? Task.CompletedTask : _store.EnqueueAsync(message, targets);
        for (var i = 0; i < count; i++)
        {
            var (session, delivery) = deliveries[i];
            if (session.Enqueue(delivery) is > 0 and var dropped)
            {
                _metrics.MessagesDropped.Add(dropped);
            }

            session.Link?.Connection.OnDeliveriesPending();
        }

        return stored;
    }

    /// <summary>
    /// Ends a session for good, persistent or not: its subscriptions, queue and stored state go
    /// (an edge's client deleted what the session stands for, e.g. a queue). An attached
    /// connection is detached first; the caller closes it if it must.
    /// </summary>
    public void RemoveSession(Session session)
    {
        lock (_connectLock)
        {
            if (session.Link is { } link)
            {
                session.Link = null;
                CountClosed(link);
            }

            if (_sessions.TryGetValue(session.ClientId, out var current) && ReferenceEquals(current, session))
            {
                EndSession(session);
            }
        }
    }
}
