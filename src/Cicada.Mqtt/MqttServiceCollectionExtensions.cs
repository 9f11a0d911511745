using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Cicada.Mqtt;

public static class MqttServiceCollectionExtensions
{
    /// <summary>Registers the MQTT edge; the host binds listeners with <c>UseConnectionHandler&lt;MqttConnectionHandler&gt;()</c>.</summary>
    public static IServiceCollection AddCicadaMqtt(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<MqttOptions>(configuration.GetSection(MqttOptions.Section));
        services.AddSingleton<MqttConnectionHandler>();
        return services;
    }
}
