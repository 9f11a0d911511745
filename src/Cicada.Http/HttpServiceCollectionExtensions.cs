using Cicada.Core;
using Cicada.Devices;
using Cicada.Http.Dashboard;
using Cicada.Http.Devices;
using Cicada.Http.Metrics;
using Cicada.Http.Rest;
using Cicada.Http.Streaming;
using Cicada.Http.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Cicada.Http;

public static class HttpServiceCollectionExtensions
{
    /// <summary>
    /// Registers the HTTP edge: routing, WebSockets, JSON (source-generated), OpenAPI, the
    /// Prometheus exporter for the <c>Cicada</c> meter and the device registry. The host must also
    /// register Core, the MQTT edge (its handler serves <c>/mqtt</c>) and an
    /// <see cref="Core.Storage.IDeviceStore"/>, bind a Kestrel HTTP endpoint and call
    /// <see cref="MapCicadaHttp{TApp}"/>.
    /// </summary>
    public static IServiceCollection AddCicadaHttp(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<HttpOptions>(configuration.GetSection(HttpOptions.Section));
        services.AddRouting();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, HttpJsonContext.Default));
        services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Cicada broker";
            document.Info.Description = "REST topics, device registry, live stream and broker state of the Cicada IoT broker.";
            return Task.CompletedTask;
        }));
        services.AddOpenTelemetry().ConfigureResource(r => r.AddService("cicada")).WithMetrics(metrics => metrics
            .AddMeter(CicadaMetrics.MeterName)
            // .NET's built-in runtime instruments (GC pause time, heap size, thread pool): the soak
            // and operators watch memory and pauses from /metrics.
            .AddMeter("System.Runtime")
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        services.AddCicadaDevices(configuration);
        services.AddSingleton<HttpMetrics>();
        services.AddSingleton<SseReplayBuffer>();
        return services;
    }

    /// <summary>Adds the edge's middleware (errors, authentication, WebSockets) and maps its endpoints.</summary>
    public static TApp MapCicadaHttp<TApp>(this TApp app)
        where TApp : IApplicationBuilder, IEndpointRouteBuilder
    {
        // Created now so its gauges exist before the first scrape.
        app.ApplicationServices.GetRequiredService<HttpMetrics>();

        // Buffering starts with the listener, so a client resuming later finds what it missed.
        app.ApplicationServices.GetRequiredService<SseReplayBuffer>();

        app.UseMiddleware<HttpErrorMiddleware>();
        app.UseMiddleware<HttpRateLimitMiddleware>();
        app.UseMiddleware<HttpAuthMiddleware>();
        app.UseWebSockets();

        var api = app.MapGroup("/api/v1");
        TopicEndpoints.Map(api);
        DeviceEndpoints.Map(api);
        DeviceControlEndpoints.Map(api);
        BrokerStateEndpoints.Map(api);
        AclEndpoints.Map(api);
        StreamEndpoint.Map(api);
        MqttWebSocketEndpoint.Map(app);
        DashboardEndpoints.Map(app);

        app.MapGet("/healthz", (Broker broker) => TypedResults.Json(
                new HealthInfo("ok", typeof(Broker).Assembly.GetName().Version?.ToString(3) ?? "0.0.0", broker.Metrics.Connections,
                    broker.Sessions.Count, broker.Retained.Count, broker.Subscriptions.Count),
                HttpJsonContext.Default.HealthInfo))
            .WithTags("Broker").WithSummary("Liveness and a few counts");
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}
