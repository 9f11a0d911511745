using System.Globalization;
using Cicada.Core.Storage;

namespace Cicada.Amqp.Routing;

/// <summary>The heartbeat's work on queues: expired messages leave the head (x-message-ttl, expiration), unused queues go (x-expires).</summary>
internal sealed partial class VirtualHost
{
    /// <summary>Called once a second by the edge.</summary>
    public void Sweep()
    {
        var now = Environment.TickCount64;
        foreach (var queue in _queues.Values)
        {
            queue.DropExpired();
            if (queue.HasExpired(now))
            {
                lock (_sync)
                {
                    // Checked again under the lock: a consumer or a redeclaration may have just renewed it.
                    if (!queue.Deleted && queue.HasExpired(Environment.TickCount64))
                    {
                        RemoveQueueLocked(queue);
                        Expired?.Invoke(queue);
                    }
                }
            }
        }
    }

    /// <summary>A queue deleted by x-expires (the edge logs it).</summary>
    public Action<AmqpQueue>? Expired { get; set; }

    /// <summary>
    /// A write through the same store, to learn whether it accepts writes again. As big as a batch
    /// of messages (64 KiB): a tiny one could fit in pages a full disk still has while messages do not.
    /// </summary>
    public Task ProbeStoreAsync(DateTimeOffset now) =>
        store.SaveTopologyAsync(new TopologyRecord(Prefix + "probe", now.ToString("O", CultureInfo.InvariantCulture).PadRight(64 * 1024, '.')));
}
