using Cicada.Core.Sessions;
using Cicada.Core.Storage;

namespace Cicada.Core;

/// <summary>Timed session state: session expiry and delayed wills, run off the one heartbeat.</summary>
public sealed partial class Broker
{
    private readonly PriorityQueue<Session, DateTimeOffset> _timers = new();
    private readonly Lock _timersLock = new();

    /// <summary>Schedules the end of a disconnected session (MQTT 5 §3.1.2.11.2); never for "never expires".</summary>
    private void ScheduleExpiry(Session session)
    {
        if (session.ExpirySeconds != uint.MaxValue && session.DisconnectedAt is { } at)
        {
            Schedule(session, at.AddSeconds(session.ExpirySeconds));
        }
    }

    private void Schedule(Session session, DateTimeOffset due)
    {
        lock (_timersLock)
        {
            _timers.Enqueue(session, due);
        }
    }

    /// <summary>Publishes wills whose delay has run out and ends sessions whose expiry has.</summary>
    public void OnHeartbeat(DateTimeOffset now)
    {
        while (true)
        {
            Session? session;
            lock (_timersLock)
            {
                if (!_timers.TryPeek(out session, out var due) || due > now)
                {
                    return;
                }

                _timers.Dequeue();
            }

            Will? will = null;
            lock (_connectLock)
            {
                if (session.PendingWill is { } pending && session.WillDueAt <= now)
                {
                    will = pending;
                    session.PendingWill = null;
                }

                if (session.Link is null && session.IsPersistent && session.ExpirySeconds != uint.MaxValue
                    && session.DisconnectedAt is { } at && at.AddSeconds(session.ExpirySeconds) <= now
                    && _sessions.TryGetValue(session.ClientId, out var live) && ReferenceEquals(live, session))
                {
                    EndSession(session);
                }
            }

            if (will is not null)
            {
                PublishAsync(will.ToPublish(_time.GetUtcNow())).Forget();
            }
        }
    }

    /// <summary>
    /// Hands the deliveries an ended session still held through shared subscriptions to another
    /// member of the same group (MQTT 5 §4.8.2); everything else it held ends with it.
    /// </summary>
    private void Redistribute(List<Delivery> held)
    {
        foreach (var delivery in held)
        {
            if (delivery.Via is not { ShareGroup: not null } via || _subscriptions.PickShared(via) is not { } member
                || member.Subscriber is not Session target)
            {
                continue;
            }

            var qos = (QoS)Math.Min((byte)delivery.Message.Qos, (byte)member.Options.MaxQos);
            var seq = target.IsPersistent && qos != QoS.AtMostOnce ? target.NextSeq() : 0;
            if (seq != 0)
            {
                _store.EnqueueAsync(delivery.Message, [new QueueTarget(target.ClientId, seq, qos)]).Forget();
            }

            if (target.Enqueue(new Delivery(delivery.Message, qos, delivery.Retain, seq, member)) is > 0 and var dropped)
            {
                CountDrop(target, dropped);
            }

            target.Link?.Connection.OnDeliveriesPending();
        }
    }
}
