using System.Net;

namespace Cicada.Core.Sessions;

/// <summary>
/// A last will (MQTT-3.1.2-8): published when the connection ends without a clean disconnect,
/// after <paramref name="DelaySeconds"/> (MQTT 5 §3.1.3.2.2). <paramref name="MessageExpirySeconds"/>
/// counts from the moment it is published.
/// </summary>
public sealed record Will(Message Message, uint DelaySeconds = 0, uint? MessageExpirySeconds = null)
{
    /// <summary>The message to publish now, with its expiry starting now.</summary>
    public Message ToPublish(DateTimeOffset now) => MessageExpirySeconds is { } seconds
        ? new Message(Message.Topic, Message.Payload, Message.Qos, Message.Retain, Message.Properties, Message.OriginClientId,
            now.AddSeconds(seconds))
        : Message;
}

/// <summary>One connection attached to one session; what <see cref="Broker.Connect"/> hands an edge.</summary>
public sealed partial class ClientLink
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
