using System.Net;

namespace Cicada.Core.Sessions;

/// <summary>A last will (MQTT-3.1.2-8): published when the connection ends without a clean disconnect.</summary>
public sealed record Will(Message Message, uint DelaySeconds = 0);

/// <summary>One connection attached to one session; what <see cref="Broker.Connect"/> hands an edge.</summary>
public sealed class ClientLink
{
    internal ClientLink(Session session, IClientConnection connection, Will? will, string protocol, EndPoint? remote)
    {
        Session = session;
        Connection = connection;
        Will = will;
        Protocol = protocol;
        RemoteEndPoint = remote;
        ConnectedAt = DateTimeOffset.UtcNow;
    }

    public Session Session { get; }
    public IClientConnection Connection { get; }
    public string Protocol { get; }
    public EndPoint? RemoteEndPoint { get; }
    public DateTimeOffset ConnectedAt { get; }

    /// <summary>The will; cleared on a normal disconnect (MQTT-3.14.4-3).</summary>
    public Will? Will { get; set; }

    public string ClientId => Session.ClientId;
}

/// <summary>Outcome of <see cref="Broker.Connect"/>.</summary>
public readonly record struct ConnectResult(ClientLink Link, bool SessionPresent);
