namespace Cicada.Bridge;

/// <summary>
/// Loop prevention for MQTT 3.1.1 remotes, which have no No Local subscription option (MQTT 5
/// §3.8.3.1): a message the bridge published to a remote topic that its own <c>in</c>
/// subscriptions also match comes straight back. Each one sent is remembered (topic and a
/// fingerprint of the payload) for <see cref="Window"/>; an inbound message matching a remembered
/// one is its echo and is consumed instead of published. The cost: a different client publishing
/// the very same payload to the very same topic within the window is taken for an echo once.
/// </summary>
internal sealed class EchoFilter(TimeProvider time, int capacity = 10_000)
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(60);

    private readonly Lock _lock = new();

    // Per message key, the sequence numbers of the copies sent and not yet echoed, oldest first;
    // and every copy in sending order, to expire them.
    private readonly Dictionary<(string Topic, int Length, int Hash), Queue<long>> _sent = [];
    private readonly Queue<((string Topic, int Length, int Hash) Key, long Seq, long At)> _order = new();
    private long _seq;

    /// <summary>Copies remembered (echoed or not) until they expire.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _order.Count;
            }
        }
    }

    public void Record(string topic, ReadOnlySpan<byte> payload)
    {
        var key = Key(topic, payload);
        var now = time.GetTimestamp();
        lock (_lock)
        {
            Expire(now);
            if (_order.Count >= capacity)
            {
                Drop(_order.Dequeue());
            }

            var seq = ++_seq;
            if (!_sent.TryGetValue(key, out var copies))
            {
                _sent[key] = copies = new Queue<long>();
            }

            copies.Enqueue(seq);
            _order.Enqueue((key, seq, now));
        }
    }

    /// <summary>True (and forgets that copy) when the message is the echo of one the bridge sent.</summary>
    public bool TryConsume(string topic, ReadOnlySpan<byte> payload)
    {
        var key = Key(topic, payload);
        lock (_lock)
        {
            Expire(time.GetTimestamp());
            if (!_sent.TryGetValue(key, out var copies))
            {
                return false;
            }

            copies.Dequeue();
            if (copies.Count == 0)
            {
                _sent.Remove(key);
            }

            return true;
        }
    }

    private void Expire(long now)
    {
        while (_order.TryPeek(out var oldest) && time.GetElapsedTime(oldest.At, now) > Window)
        {
            Drop(_order.Dequeue());
        }
    }

    /// <summary>Forgets one copy unless its echo already consumed it (copies leave both queues oldest first).</summary>
    private void Drop(((string, int, int) Key, long Seq, long At) entry)
    {
        if (_sent.TryGetValue(entry.Key, out var copies) && copies.Peek() == entry.Seq)
        {
            copies.Dequeue();
            if (copies.Count == 0)
            {
                _sent.Remove(entry.Key);
            }
        }
    }

    private static (string, int, int) Key(string topic, ReadOnlySpan<byte> payload)
    {
        var hash = new HashCode();
        hash.AddBytes(payload);
        return (topic, payload.Length, hash.ToHashCode());
    }
}
