using Cicada.Core.Limits;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Cicada.Core.Auth;

public static class SecurityServiceCollectionExtensions
{
    /// <summary>
    /// Registers what every edge asks before it lets a request through: the <see cref="IAuthorizer"/>
    /// (an <see cref="AclFileAuthorizer"/> when <c>Auth:AclFile</c> is set, else
    /// <see cref="AllowAllAuthorizer"/>; a host that registered its own first keeps it) and the
    /// <see cref="ConnectionLimiter"/> (section <c>Limits</c>), and the registry of challenge/response
    /// <see cref="AuthenticationMechanisms"/> built from every registered <see cref="IAuthenticationMechanism"/>.
    /// </summary>
    public static IServiceCollection AddCicadaSecurity(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<AclOptions>(configuration.GetSection(AclOptions.Section));
        services.Configure<LimitsOptions>(configuration.GetSection(LimitsOptions.Section));
        services.TryAddSingleton<IAuthorizer>(sp =>
            string.IsNullOrWhiteSpace(sp.GetRequiredService<IOptions<AclOptions>>().Value.AclFile)
                ? AllowAllAuthorizer.Instance
                : ActivatorUtilities.CreateInstance<AclFileAuthorizer>(sp));
        services.TryAddSingleton<ConnectionLimiter>();
        services.TryAddSingleton<AuthenticationMechanisms>();
        return services;
    }
}
