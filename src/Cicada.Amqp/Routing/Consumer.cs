using Cicada.Core;
using Cicada.Core.Sessions;

namespace Cicada.Amqp.Routing;

/// <summary>A message taken from a queue for one consumer or basic.get: Core's delivery and Core's in-flight id (0 when Core tracks none).</summary>
internal readonly record struct QueuedMessage(Delivery Delivery, int CoreId, bool Redelivered)
{
    public Message Message => Delivery.Message;
}

/// <summary>One basic.consume: a queue's messages pushed to one channel under its prefetch limits.</summary>
internal sealed class Consumer(IConsumerChannel channel, AmqpQueue queue, string tag, bool noAck, bool exclusive, int prefetch)
{
    private int _unacked;

    public IConsumerChannel Channel { get; } = channel;
    public AmqpQueue Queue { get; } = queue;
    public string Tag { get; } = tag;
    public bool NoAck { get; } = noAck;
    public bool Exclusive { get; } = exclusive;

    /// <summary>basic.qos prefetch-count with global=false at consume time (RabbitMQ's per-consumer meaning); 0 = no limit.</summary>
    public int Prefetch { get; } = prefetch;

    public int Unacked => Volatile.Read(ref _unacked);

    /// <summary>Reserves room for one delivery under the consumer's and the channel's prefetch (basic.qos).</summary>
    public bool TryReserve()
    {
        if (!Channel.CanDeliver)
        {
            return false;
        }

        if (NoAck)
        {
            return true;
        }

        if (Prefetch > 0 && Unacked >= Prefetch)
        {
            return false;
        }

        if (!Channel.TryReserve())
        {
            return false;
        }

        Interlocked.Increment(ref _unacked);
        return true;
    }

    /// <summary>Gives back a reservation: the delivery was acknowledged, rejected or never sent.</summary>
    public void Release()
    {
        if (!NoAck)
        {
            Interlocked.Decrement(ref _unacked);
            Channel.Release();
        }
    }
}

/// <summary>What a queue needs from the channel a consumer lives on.</summary>
internal interface IConsumerChannel
{
    /// <summary>Open, flow active, not closing.</summary>
    bool CanDeliver { get; }

    /// <summary>Whether the peer understands basic.cancel from the server (capability consumer_cancel_notify).</summary>
    bool CancelNotify { get; }

    bool TryReserve();

    void Release();

    /// <summary>Writes basic.deliver with the content (not flushed); false when the channel has closed meanwhile.</summary>
    ValueTask<bool> DeliverAsync(Consumer consumer, QueuedMessage message);

    ValueTask FlushAsync();

    /// <summary>The queue went away: tell the peer (basic.cancel, RabbitMQ's consumer cancel notification).</summary>
    void OnConsumerCancelled(Consumer consumer);
}
