using Cicada.Core.Auth;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Cicada.Core;

public static class CoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers Core: options (sections <c>Broker</c>, <c>Auth</c>, <c>Sys</c>), the broker (router, sessions,
    /// retained, wills), the heartbeat, the <c>$SYS</c> publisher and the startup that loads state from the
    /// <see cref="Storage.IBrokerStore"/> the host registers. The host must register an
    /// <see cref="IAuthenticator"/> and an <see cref="Storage.IBrokerStore"/>.
    /// </summary>
    public static IServiceCollection AddCicadaCore(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<BrokerOptions>(configuration.GetSection(BrokerOptions.Section));
        services.Configure<AuthOptions>(configuration.GetSection(AuthOptions.Section));
        services.Configure<SysOptions>(configuration.GetSection(SysOptions.Section));
        services.AddMetrics();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<CicadaMetrics>();
        services.AddSingleton<Broker>();
        services.AddSingleton<Heartbeat>();
        services.AddCicadaSecurity(configuration);
        services.AddHostedService<BrokerStartup>();
        services.AddHostedService(sp => sp.GetRequiredService<Heartbeat>());
        services.AddHostedService<SysTopics>();
        return services;
    }
}

/// <summary>Loads the broker's durable state before any listener accepts a connection.</summary>
internal sealed class BrokerStartup(Broker broker, Storage.IBrokerStore store, Heartbeat heartbeat, IHostApplicationLifetime lifetime)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await broker.LoadAsync(cancellationToken);
        heartbeat.Register(broker);

        // Before the listeners stop: every edge tells its clients (MQTT 5 DISCONNECT 0x8B).
        lifetime.ApplicationStopping.Register(broker.CloseAll);
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await store.DisposeAsync();
}
