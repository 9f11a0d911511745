using Cicada.Core;
using Cicada.Core.Auth;
using Cicada.Core.Limits;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Mqtt;

/// <summary>Kestrel entry point of the MQTT edge: one call per accepted TCP (or TLS) connection.</summary>
public sealed class MqttConnectionHandler(
    Broker broker,
    IAuthenticator authenticator,
    IAuthorizer authorizer,
    ConnectionLimiter limiter,
    AuthenticationMechanisms mechanisms,
    Heartbeat heartbeat,
    IOptions<MqttOptions> options,
    ILogger<MqttConnectionHandler> logger) : ConnectionHandler
{
    private readonly MqttEdge _edge = new(broker, authenticator, heartbeat, options.Value, logger)
    {
        Authorizer = authorizer,
        Limiter = limiter,
        Mechanisms = mechanisms,
    };

    // Not async: an async method here would keep a second state machine (~120 bytes) alive for
    // every idle connection beside the read loop's; the connection disposes the lease itself.
    public override Task OnConnectedAsync(ConnectionContext connection)
    {
        // Counted from the first byte, so a flood of idle sockets is limited too. A connection over
        // a limit still gets to say CONNECT, to be refused with its version's code (MqttConnection.Connect).
        var lease = limiter.TryOpen("mqtt", connection.RemoteEndPoint);
        if (lease is null)
        {
            connection.Features.Set(ConnectionLimitExceeded.Instance);
        }

        return new MqttConnection(_edge, connection, lease).RunAsync();
    }
}

/// <summary>Connection feature: a connection limit refused this connection; CONNECT is answered with 0x97 / 0x03.</summary>
internal sealed class ConnectionLimitExceeded
{
    public static ConnectionLimitExceeded Instance { get; } = new();
}

/// <summary>What every MQTT connection shares: the broker and the edge's settings.</summary>
internal sealed record MqttEdge(
    Broker Broker,
    IAuthenticator Authenticator,
    Heartbeat Heartbeat,
    MqttOptions Options,
    ILogger Logger)
{
    /// <summary>Who may publish and subscribe where (Core's ACL, the same for every edge).</summary>
    public IAuthorizer Authorizer { get; init; } = AllowAllAuthorizer.Instance;

    /// <summary>Connection, subscription and topic limits (Core's, the same for every edge).</summary>
    public ConnectionLimiter? Limiter { get; init; }

    /// <summary>The challenge/response methods MQTT 5 clients may name in CONNECT (§4.12).</summary>
    public AuthenticationMechanisms Mechanisms { get; init; } = AuthenticationMechanisms.None;
}
