using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cicada.Devices;

public static class DevicesServiceCollectionExtensions
{
    /// <summary>
    /// Registers the device services over Core: the registry (with availability), commands with
    /// replies and discovery. Idempotent, so every edge that offers devices (HTTP, CoAP) can call
    /// it. The host must register Core and an <see cref="Core.Storage.IDeviceStore"/>, and call
    /// this after Core so the registry starts after the store is initialized.
    /// </summary>
    public static IServiceCollection AddCicadaDevices(this IServiceCollection services, IConfiguration configuration)
    {
        _ = configuration;
        if (services.Any(d => d.ServiceType == typeof(DeviceRegistry)))
        {
            return services;
        }

        services.TryAddSingleton<DeviceRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<DeviceRegistry>());
        services.TryAddSingleton<DeviceCommands>();
        services.AddHostedService<DeviceDiscovery>();
        return services;
    }
}
