using Cicada.Core;

namespace Cicada.Amqp.Routing;

/// <summary>
/// Queue arguments applied (<see cref="QueueLimits"/>): message TTL, queue expiry and maximum length.
/// Expiry is applied at the head, as RabbitMQ does: a message behind a live one waits for it, but no
/// expired message is ever delivered, and the counts never include one at the head.
/// </summary>
internal sealed partial class AmqpQueue
{
    // "Immediately" for a TTL of 0: the clock is coarse (a few ms) and the dispatch runs on the pool.
    private const long ImmediateMs = 20;

    private long _lastUsedTick = Environment.TickCount64;

    public QueueLimits Limits { get; }

    /// <summary>As <see cref="Complete"/>; the task completes when the removal is stored (tx.commit waits for it).</summary>
    public Task CompleteDurably(in QueuedMessage message) =>
        message.CoreId != 0 && Session.Complete(message.CoreId, out var durable) ? durable : Task.CompletedTask;

    /// <summary>
    /// RabbitMQ's "unused" for x-expires: no consumer, and no queue.declare (not passive) or
    /// basic.get for the interval. Consumers keep it used as long as they exist.
    /// </summary>
    public void Touch() => Volatile.Write(ref _lastUsedTick, Environment.TickCount64);

    /// <summary>x-expires has run out: the queue is to be deleted (checked on the heartbeat).</summary>
    public bool HasExpired(long nowTick) =>
        Limits.Expires is { } expires && ConsumerCount == 0 && nowTick - Volatile.Read(ref _lastUsedTick) >= expires;

    /// <summary>
    /// Per-message expiration (the <c>expiration</c> property, Core's expiry) or the queue's
    /// x-message-ttl, counted from when the broker accepted the message. A TTL of 0 lets a message
    /// through only to a consumer taking it as it arrives (RabbitMQ's meaning of 0).
    /// </summary>
    private bool IsExpired(Message message, DateTimeOffset now, bool forConsumer)
    {
        if (message.IsExpired(now))
        {
            return true;
        }

        if (Limits.MessageTtl is not { } ttl)
        {
            return false;
        }

        var age = Environment.TickCount64 - message.AcceptedAtTick;
        return ttl == 0 ? !forConsumer || age > ImmediateMs : age >= ttl;
    }

    /// <summary>Drops expired messages at the head of the queue (heartbeat, counts).</summary>
    public void DropExpired()
    {
        lock (_lock)
        {
            DropExpiredLocked();
        }
    }

    private void DropExpiredLocked()
    {
        if (Deleted)
        {
            return;
        }

        var now = _time.GetUtcNow();
        while (_requeued.First is { } first && IsExpired(first.Value.Message, now, forConsumer: false))
        {
            _requeued.RemoveFirst();
            Complete(first.Value);
        }

        if (_requeued.Count == 0)
        {
            Session.DropExpiredHead(m => IsExpired(m, now, forConsumer: false));
        }
    }

    /// <summary>x-max-length reached with x-overflow reject-publish: new messages are refused (and nacked to confirming publishers).</summary>
    public bool RefusesPublish
    {
        get
        {
            if (!Limits.RejectPublish || Limits.MaxLength is not { } max)
            {
                return false;
            }

            lock (_lock)
            {
                return Session.PendingCount + _requeued.Count >= max;
            }
        }
    }

    /// <summary>
    /// Keeps at most x-max-length ready messages: drop-head drops the oldest (RabbitMQ's default);
    /// reject-publish drops the newest, which only a message routed by Core's topic space can be
    /// (AMQP exchanges do not route to a full reject-publish queue at all).
    /// </summary>
    private void EnforceMaxLength()
    {
        var max = (int)Math.Min(Limits.MaxLength!.Value, int.MaxValue);
        lock (_lock)
        {
            if (Deleted || Session.PendingCount + _requeued.Count <= max)
            {
                return;
            }

            if (Limits.RejectPublish)
            {
                Session.TrimPending(max - _requeued.Count, dropNewest: true);
                return;
            }

            while (_requeued.Count > 0 && Session.PendingCount + _requeued.Count > max)
            {
                var first = _requeued.First!.Value;
                _requeued.RemoveFirst();
                Complete(first);
            }

            Session.TrimPending(max, dropNewest: false);
        }
    }
}
