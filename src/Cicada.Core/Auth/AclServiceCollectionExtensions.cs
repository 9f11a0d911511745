using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Cicada.Core.Auth;

public static class AclServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <see cref="IAuthorizer"/> every edge asks: an <see cref="AclFileAuthorizer"/>
    /// when <c>Auth:AclFile</c> is set, else <see cref="AllowAllAuthorizer"/>. A host that
    /// registered its own authorizer first keeps it.
    /// </summary>
    public static IServiceCollection AddCicadaAcl(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<AclOptions>(configuration.GetSection(AclOptions.Section));
        services.TryAddSingleton<IAuthorizer>(sp =>
            string.IsNullOrWhiteSpace(sp.GetRequiredService<IOptions<AclOptions>>().Value.AclFile)
                ? AllowAllAuthorizer.Instance
                : ActivatorUtilities.CreateInstance<AclFileAuthorizer>(sp));
        return services;
    }
}
