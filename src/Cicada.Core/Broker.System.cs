using Cicada.Core.Sessions;

namespace Cicada.Core;

/// <summary>
/// Client counts at one moment, as <c>$SYS/broker/clients/*</c> reports them. The broker's own
/// subscribers (<see cref="Broker.InternalProtocol"/>, e.g. device discovery) are no clients: they
/// are counted apart, and their subscriptions are not in <paramref name="Subscriptions"/>.
/// </summary>
/// <param name="Connected">Sessions with a live connection.</param>
/// <param name="Disconnected">Persistent sessions waiting for their client.</param>
/// <param name="ByProtocol">Live connections per edge (<see cref="ClientLink.Protocol"/>).</param>
/// <param name="Subscriptions">Subscriptions held by client sessions, connected or not.</param>
/// <param name="Internal">The broker's own subscriber sessions.</param>
public sealed record ClientCounts(int Connected, int Disconnected, IReadOnlyDictionary<string, int> ByProtocol, int Subscriptions = 0,
    int Internal = 0)
{
    public int Total => Connected + Disconnected;
}

public sealed partial class Broker
{
    /// <summary>Protocol name of sessions the broker runs for itself (device discovery and the like).</summary>
    public const string InternalProtocol = "internal";

    /// <summary>
    /// Publishes a broker-made QoS 0 message (the <c>$SYS</c> tree): routed and, when
    /// <see cref="Message.Retain"/>, retained in memory like any other, but neither stored (it is
    /// recomputed after a restart, and a stale uptime read back from disk would be a lie) nor counted
    /// as received (mosquitto counts only what clients publish).
    /// </summary>
    public void PublishSystem(Message message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Qos != QoS.AtMostOnce)
        {
            // QoS 0 is what keeps this path off the store: offline sessions queue nothing, online
            // ones take no queue position.
            throw new ArgumentException("system messages are QoS 0", nameof(message));
        }

        if (message.Retain)
        {
            if (message.Payload.IsEmpty)
            {
                _retained.Remove(message.Topic);
            }
            else
            {
                _retained.Set(message);
            }
        }

        var scratch = _threadScratch ??= new RouteScratch();
        try
        {
            _subscriptions.Match(message.Topic, scratch.Matches);
            Collect(message, scratch);
            foreach (var (session, delivery) in scratch.Deliveries)
            {
                if (session.Enqueue(delivery) is > 0 and var dropped)
                {
                    CountDrop(session, dropped);
                }

                session.Link?.Connection.OnDeliveriesPending();
            }
        }
        finally
        {
            scratch.Matches.Clear();
            scratch.Deliveries.Clear();
            scratch.Seen.Clear();
        }
    }

    /// <summary>
    /// Only links that stand for a client on the network are connections in the metrics: the
    /// broker's own sessions (<see cref="InternalProtocol"/>) and sessions an edge keeps for an
    /// entity with no connection of its own (an AMQP queue: no remote end point) are not.
    /// </summary>
    private static bool IsClientConnection(ClientLink link) => link.Protocol != InternalProtocol && link.RemoteEndPoint is not null;

    private void CountOpened(ClientLink link)
    {
        if (IsClientConnection(link))
        {
            _metrics.ConnectionOpened(link.Protocol);
        }
    }

    private void CountClosed(ClientLink link)
    {
        if (IsClientConnection(link))
        {
            _metrics.ConnectionClosed(link.Protocol);
        }
    }

    /// <summary>Counts sessions by state and live connections by protocol, walking the sessions without copying them.</summary>
    public ClientCounts CountClients()
    {
        var connected = 0;
        var disconnected = 0;
        var subscriptions = 0;
        var internalSessions = 0;
        var byProtocol = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (_, session) in _sessions)
        {
            if (session.Link is { } link)
            {
                if (link.Protocol == InternalProtocol)
                {
                    internalSessions++;
                    continue;
                }

                connected++;
                byProtocol[link.Protocol] = byProtocol.GetValueOrDefault(link.Protocol) + 1;
            }
            else
            {
                disconnected++;
            }

            subscriptions += session.SubscriptionCount;
        }

        return new ClientCounts(connected, disconnected, byProtocol, subscriptions, internalSessions);
    }
}
