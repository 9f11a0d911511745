using System.Net;
using Cicada.Devices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Cicada.Coap;

public static class CoapServiceCollectionExtensions
{
    /// <summary>
    /// Registers the CoAP edge (section <c>Coap</c>) as a hosted service bound to
    /// <paramref name="endPoint"/>: Kestrel does not do UDP, so the edge owns its socket.
    /// </summary>
    public static IServiceCollection AddCicadaCoap(this IServiceCollection services, IConfiguration configuration,
        IPEndPoint endPoint, bool dualMode = false)
    {
        services.Configure<CoapOptions>(configuration.GetSection(CoapOptions.Section));
        services.PostConfigure<CoapOptions>(o =>
        {
            o.EndPoint = endPoint;
            o.DualMode = dualMode;
        });
        services.AddCicadaDevices(configuration);
        services.AddSingleton<CoapServer>();
        services.AddHostedService(sp => sp.GetRequiredService<CoapServer>());
        return services;
    }
}
