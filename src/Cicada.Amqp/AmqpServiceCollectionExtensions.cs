using Cicada.Core.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cicada.Amqp;

public static class AmqpServiceCollectionExtensions
{
    /// <summary>
    /// Registers the AMQP edge; the host binds listeners with <c>UseConnectionHandler&lt;AmqpConnectionHandler&gt;()</c>.
    /// Register after Core (its startup must run after Core's) and register an <see cref="ITopologyStore"/>
    /// for durable declarations (an in-memory one is used when none is).
    /// </summary>
    public static IServiceCollection AddCicadaAmqp(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<AmqpOptions>(configuration.GetSection(AmqpOptions.Section));
        services.TryAddSingleton<ITopologyStore, MemoryTopologyStore>();
        services.AddSingleton<AmqpEdge>();
        services.AddSingleton<AmqpConnectionHandler>();
        services.AddHostedService<AmqpStartup>();
        services.AddHostedService<AmqpLifecycle>();
        return services;
    }
}
