using Cicada.Core;
using Cicada.Mqtt;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Bridge;

/// <summary>Runs every configured bridge from start-up (after Core has loaded its sessions) to shutdown.</summary>
public sealed class BridgeService(IReadOnlyList<BridgeSettings> settings, Broker broker, BridgeMetrics metrics,
    IOptions<MqttOptions> mqttOptions, ILogger<Bridge> logger) : BackgroundService
{
    private readonly List<Bridge> _bridges = [.. settings.Select(s => new Bridge(s, broker, metrics, logger, mqttOptions.Value.MaxPacketSize))];

    public IReadOnlyList<Bridge> Bridges => _bridges;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_bridges.Select(b => Task.Run(() => b.RunAsync(stoppingToken), CancellationToken.None)));
}

public static class BridgeServiceCollectionExtensions
{
    /// <summary>
    /// Registers the bridges of the <c>Bridges</c> section (checked before start-up by
    /// <see cref="BridgeConfiguration.Validate"/>; a bridge with problems is left out here). Register
    /// after Core, so the bridges start once Core has loaded its sessions.
    /// </summary>
    public static IServiceCollection AddCicadaBridges(this IServiceCollection services, IConfiguration configuration)
    {
        var bridges = BridgeConfiguration.Read(configuration, out _);
        if (bridges.Count == 0)
        {
            return services;
        }

        services.AddSingleton<BridgeMetrics>();
        services.AddSingleton(sp => new BridgeService(bridges, sp.GetRequiredService<Broker>(), sp.GetRequiredService<BridgeMetrics>(),
            sp.GetRequiredService<IOptions<MqttOptions>>(), sp.GetRequiredService<ILogger<Bridge>>()));
        services.AddHostedService(sp => sp.GetRequiredService<BridgeService>());
        return services;
    }
}
