using Cicada.Amqp.Routing;
using Cicada.Core;
using Cicada.Core.Auth;
using Cicada.Core.Storage;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Amqp;

/// <summary>Kestrel entry point of the AMQP 0-9-1 edge: one call per accepted TCP connection.</summary>
public sealed class AmqpConnectionHandler : ConnectionHandler
{
    private readonly AmqpEdge _edge;

    public AmqpConnectionHandler(AmqpEdge edge) => _edge = edge;

    public override Task OnConnectedAsync(ConnectionContext connection)
    {
        // Limits:MaxConnections / MaxConnectionsPerIp count AMQP connections with every other
        // listener's; one over a limit is refused at connection.start-ok (530, as RabbitMQ's
        // connection limit), so the client library reports why.
        return new AmqpConnection(_edge, connection, _edge.Limiter?.TryOpen("amqp", connection.RemoteEndPoint)).RunAsync();
    }
}

/// <summary>What every AMQP connection shares: the broker, the virtual host and the edge's settings.</summary>
public sealed partial class AmqpEdge
{
    public AmqpEdge(Broker broker, IAuthenticator authenticator, Heartbeat heartbeat, ITopologyStore topology,
        IOptions<AmqpOptions> options, ILogger<AmqpConnectionHandler> logger, IAuthorizer? authorizer = null,
        Core.Limits.ConnectionLimiter? limiter = null)
    {
        Limiter = limiter;
        Broker = broker;
        Authenticator = authenticator;
        Authorizer = authorizer ?? AllowAllAuthorizer.Instance;
        Heartbeat = heartbeat;
        Options = options.Value;
        Logger = logger;
        Host = new VirtualHost(broker, topology);
    }

    public Broker Broker { get; }
    public IAuthenticator Authenticator { get; }

    /// <summary>The ACL every edge applies: amq.topic publishes and bindings are topic-space publishes and subscriptions.</summary>
    public IAuthorizer Authorizer { get; }
    public Heartbeat Heartbeat { get; }

    /// <summary>Limits:MaxPublishesPerSecond per connection (and the limits metric and log); null in tests without limits.</summary>
    public Core.Limits.ConnectionLimiter? Limiter { get; }
    public AmqpOptions Options { get; }
    public ILogger Logger { get; }
    internal VirtualHost Host { get; }
}

/// <summary>Loads durable exchanges, queues and bindings after Core's state and before any listener accepts.</summary>
internal sealed class AmqpStartup(AmqpEdge edge) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => edge.Host.LoadAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
