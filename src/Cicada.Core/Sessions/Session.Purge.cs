namespace Cicada.Core.Sessions;

public sealed partial class Session
{
    /// <summary>
    /// Drops every pending (not in-flight) delivery and its stored entry; returns how many went.
    /// For edges whose clients may empty a queue (a queue purge); in-flight deliveries stay until
    /// they are completed.
    /// </summary>
    public int Purge()
    {
        Delivery[] dropped;
        lock (_lock)
        {
            dropped = _pending.ToArray();
            _pending.Clear();
            _pendingBytes = 0;
        }

        foreach (var delivery in dropped)
        {
            if (delivery.Seq != 0)
            {
                _store.RemoveDeliveryAsync(ClientId, delivery.Seq).Forget();
            }
        }

        return dropped.Length;
    }
}
