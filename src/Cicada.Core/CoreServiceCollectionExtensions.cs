using Cicada.Core.Auth;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Cicada.Core;

public static class CoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers Core: options (sections <c>Broker</c>, <c>Auth</c>), the broker (router, sessions,
    /// retained, wills), the heartbeat and the startup that loads state from the
    /// <see cref="Storage.IBrokerStore"/> the host registers. The host must register an
    /// <see cref="IAuthenticator"/> and an <see cref="Storage.IBrokerStore"/>.
    /// </summary>
    public static IServiceCollection AddCicadaCore(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<BrokerOptions>(configuration.GetSection(BrokerOptions.Section));
        services.Configure<AuthOptions>(configuration.GetSection(AuthOptions.Section));
        return services;
    }
}
