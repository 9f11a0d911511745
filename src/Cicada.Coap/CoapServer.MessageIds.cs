using System.Net;
using Cicada.Coap.Protocol;

namespace Cicada.Coap;

/// <summary>
/// Message IDs of the messages this edge originates (separate responses, notifications), one
/// sequence per peer: RFC 7252 §4.4 forbids reusing an ID towards the same endpoint within
/// EXCHANGE_LIFETIME (247 s), and one counter shared by every peer would wrap its 65,536 values
/// after 265 messages per second in total — a busy observe fan-out reaches that quickly and a
/// client's deduplication (§4.5) would then drop fresh notifications as duplicates.
/// </summary>
public sealed partial class CoapServer
{
    private readonly Dictionary<IPEndPoint, PeerMessageIds> _messageIds = [];
    private DateTimeOffset _nextMessageIdSweep;

    private sealed class PeerMessageIds(ushort next, DateTimeOffset used)
    {
        public ushort Next = next;
        public DateTimeOffset Used = used;
    }

    /// <summary>The next ID towards <paramref name="remote"/>; called with <see cref="_lock"/> held.</summary>
    internal ushort NextMessageIdLocked(IPEndPoint remote)
    {
        var now = _time.GetUtcNow();
        if (!_messageIds.TryGetValue(remote, out var ids))
        {
            // §4.4: a random start, so IDs are not predictable (and not the ones of an earlier run).
            ids = new PeerMessageIds((ushort)Random.Shared.Next(ushort.MaxValue + 1), now);
            _messageIds.Add(remote, ids);
        }

        ids.Used = now;
        return ids.Next++;
    }

    /// <summary>
    /// A peer's sequence is forgotten once it has been unused for EXCHANGE_LIFETIME: every ID it
    /// handed out is then past its lifetime, so a fresh random start cannot collide (§4.4).
    /// </summary>
    private void ExpireMessageIdsLocked(DateTimeOffset now)
    {
        if (now < _nextMessageIdSweep || _messageIds.Count == 0)
        {
            return;
        }

        _nextMessageIdSweep = now + TimeSpan.FromSeconds(10);
        var limit = now - CoapTransmission.ExchangeLifetime;
        foreach (var (remote, ids) in _messageIds)
        {
            if (ids.Used < limit)
            {
                _messageIds.Remove(remote);
            }
        }
    }
}
