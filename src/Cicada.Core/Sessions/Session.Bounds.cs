namespace Cicada.Core.Sessions;

public sealed partial class Session
{
    /// <summary>
    /// Drops pending deliveries from the head while <paramref name="expired"/> says so; returns how
    /// many went. For edges whose queues expire messages by their own rule (a per-queue TTL), which,
    /// like Core's own expiry, is applied at the head.
    /// </summary>
    public int DropExpiredHead(Func<Message, bool> expired)
    {
        List<Delivery>? dropped = null;
        lock (_lock)
        {
            while (_pending.TryPeek(out var delivery) && expired(delivery.Message))
            {
                (dropped ??= []).Add(DequeueLocked());
            }
        }

        return ForgetDropped(dropped);
    }

    /// <summary>
    /// Keeps at most <paramref name="keep"/> pending deliveries, dropping the oldest or the newest;
    /// returns how many went. For edges whose queues have a length limit of their own (a maximum
    /// queue length with a drop-head or reject-new policy). Dropping the newest is O(pending).
    /// </summary>
    public int TrimPending(int keep, bool dropNewest)
    {
        List<Delivery>? dropped = null;
        lock (_lock)
        {
            keep = Math.Max(0, keep);
            if (_pending.Count <= keep)
            {
                return 0;
            }

            if (!dropNewest)
            {
                while (_pending.Count > keep)
                {
                    (dropped ??= []).Add(DequeueLocked());
                }
            }
            else
            {
                var all = _pending.ToArray();
                _pending.Clear();
                for (var i = 0; i < all.Length; i++)
                {
                    if (i < keep)
                    {
                        _pending.Enqueue(all[i]);
                    }
                    else
                    {
                        (dropped ??= []).Add(all[i]);
                        _pendingBytes -= all[i].Message.Payload.Length;
                    }
                }
            }
        }

        return ForgetDropped(dropped);
    }

    /// <summary>As <see cref="Complete(int)"/>; <paramref name="durable"/> completes when the removal is stored (a transaction's commit waits for it).</summary>
    public bool Complete(int id, out Task durable)
    {
        durable = Task.CompletedTask;
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
            durable = _store.RemoveDeliveryAsync(ClientId, done.Delivery.Seq);
        }

        return true;
    }

    private int ForgetDropped(List<Delivery>? dropped)
    {
        if (dropped is null)
        {
            return 0;
        }

        foreach (var delivery in dropped)
        {
            if (delivery.Seq != 0)
            {
                _store.RemoveDeliveryAsync(ClientId, delivery.Seq).Forget();
            }
        }

        return dropped.Count;
    }
}
