using Cicada.Core;
using Cicada.Core.Auth;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Mqtt;

/// <summary>Kestrel entry point of the MQTT edge: one call per accepted TCP (or TLS) connection.</summary>
public sealed class MqttConnectionHandler(
    Broker broker,
    IAuthenticator authenticator,
    IAuthorizer authorizer,
    Heartbeat heartbeat,
    IOptions<MqttOptions> options,
    ILogger<MqttConnectionHandler> logger) : ConnectionHandler
{
    private readonly MqttEdge _edge = new(broker, authenticator, heartbeat, options.Value, logger) { Authorizer = authorizer };

    public override Task OnConnectedAsync(ConnectionContext connection) =>
        new MqttConnection(_edge, connection).RunAsync();
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
}
