using System.Reflection;
using Cicada.Amqp;
using Cicada.Bridge;
using Cicada.Coap;
using Cicada.Core;
using Cicada.Core.Auth;
using Cicada.Core.Storage;
using Cicada.Devices;
using Cicada.Http;
using Cicada.Mqtt;
using Cicada.Server.Transport;
using Cicada.Storage.Sqlite;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Server.Hosting;

/// <summary>
/// Builds and runs the broker host: Kestrel with one listener per enabled TCP edge, Core, the
/// store and the authenticator. Thin on purpose: everything protocol-shaped lives in the edges.
/// </summary>
public static partial class CicadaServer
{
    /// <summary>Version with the source revision (<c>0.1.0+abc123…</c>), as <c>--version</c> prints it.</summary>
    public static string InformationalVersion { get; } =
        typeof(CicadaServer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public static string Version { get; } = InformationalVersion.Split('+')[0];

    /// <summary>Builds the host without starting it (tests start and stop it themselves).</summary>
    public static WebApplication Build(ServerSettings settings, IConfiguration configuration)
    {
        // The empty builder adds no configuration source, no default URL and no HTTP pipeline:
        // the configuration is exactly the stack CicadaConfiguration built, and Kestrel binds only
        // the endpoints configured below.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = "Cicada.Server",
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        builder.Configuration.AddConfiguration(configuration);

        CicadaLogging.Configure(builder.Logging, configuration);

        // Under systemd (Type=notify): READY=1 once listening, STOPPING=1 on SIGTERM, journal-style
        // log lines. Elsewhere it does nothing.
        builder.Services.AddSystemd();

        var services = builder.Services;
        services.AddCicadaCore(configuration);
        services.AddCicadaMqtt(configuration);
        services.AddCicadaAmqp(configuration);
        services.AddCicadaDevices(configuration);
        // After Core: bridges start once Core has loaded the sessions they resume.
        services.AddCicadaBridges(configuration);
        if (settings.ServesHttp)
        {
            services.AddCicadaHttp(configuration);
        }

        if (!settings.Coap.IsOff)
        {
            // Kestrel does not do UDP: the CoAP edge is a hosted service with its own socket.
            var (endPoint, dualMode) = UdpEndPoint(settings.Coap);
            services.AddCicadaCoap(configuration, endPoint, dualMode);
        }

        if (settings.Storage == StorageKind.Sqlite)
        {
            Directory.CreateDirectory(settings.DataDirectory);
            services.AddSingleton(sp => new SqliteBrokerStore(settings.DatabasePath, sp.GetRequiredService<ILogger<SqliteBrokerStore>>(),
                metrics: sp.GetService<CicadaMetrics>(), busyTimeout: settings.BusyTimeout));
            services.AddSingleton<IBrokerStore>(sp => sp.GetRequiredService<SqliteBrokerStore>());

            // The same file, behind the same single writer, keeps devices and edges' durable
            // declarations (AMQP queues, exchanges, bindings).
            services.AddSingleton<IDeviceStore>(sp => sp.GetRequiredService<SqliteBrokerStore>());
            services.AddSingleton<ITopologyStore>(sp => sp.GetRequiredService<SqliteBrokerStore>());
        }
        else
        {
            services.AddSingleton<IBrokerStore, MemoryBrokerStore>();
            services.AddSingleton<IDeviceStore, MemoryDeviceStore>();
        }

        services.PostConfigure<AuthOptions>(o => o.UsersFile = settings.UsersFile);
        services.AddSingleton<UsersFileAuthenticator>();
        // With Auth:HookUrl the hook decides every username the users file does not hold (README: Authentication hook).
        services.AddSingleton<HttpHookAuthenticator>();
        services.AddSingleton<IAuthenticator>(sp => string.IsNullOrWhiteSpace(sp.GetRequiredService<IOptions<AuthOptions>>().Value.HookUrl)
            ? sp.GetRequiredService<UsersFileAuthenticator>()
            : sp.GetRequiredService<HttpHookAuthenticator>());
        // MQTT 5 enhanced authentication (§4.12) against the SCRAM credentials of the same users file.
        services.AddSingleton<IAuthenticationMechanism>(sp => ScramSha256Mechanism.ForUsersFile(
            sp.GetRequiredService<UsersFileAuthenticator>().UsersFile, sp.GetRequiredService<ILogger<ScramSha256Mechanism>>()));
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<ReloadSignal>(sp, settings));
        services.AddHostedService(sp => sp.GetRequiredService<ReloadSignal>());

        // The plain-TCP MQTT listener runs on the broker's own socket transport unless Mqtt:Transport
        // says kestrel: a third of the memory per idle connection (bench/README.md).
        var leanMqtt = !settings.Mqtt.IsOff && !string.Equals(configuration[$"{MqttOptions.Section}:Transport"],
            MqttOptions.TransportKestrel, StringComparison.OrdinalIgnoreCase);
        if (leanMqtt)
        {
            services.AddHostedService(sp => new LeanSocketListener(settings.Mqtt,
                ActivatorUtilities.GetServiceOrCreateInstance<MqttConnectionHandler>(sp),
                sp.GetRequiredService<ILogger<LeanSocketListener>>()));
        }

        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            ByteCounting.Install(kestrel, port =>
                port == settings.Mqtt.Port || port == settings.MqttTls.Port ? "mqtt" : port == settings.Amqp.Port ? "amqp" : "http");
            if (!settings.Mqtt.IsOff && !leanMqtt)
                Listen(kestrel, settings.Mqtt, lo => lo.UseConnectionHandler<MqttConnectionHandler>());
            ListenTls(kestrel, settings);
            if (!settings.Amqp.IsOff)
                Listen(kestrel, settings.Amqp, lo => lo.UseConnectionHandler<AmqpConnectionHandler>());
            if (!settings.Http.IsOff)
                Listen(kestrel, settings.Http, _ => { });
        });
        if (settings.NoTcpListener || (leanMqtt && settings.NoKestrelListenerBesideMqtt))
        {
            // Kestrel with no endpoint binds http://localhost:5000 by default; with every TCP edge
            // off there must be no listener at all, so the server is replaced by one that binds nothing.
            services.AddSingleton<IServer, IdleServer>();
        }

        var app = builder.Build();
        if (settings.ServesHttp)
        {
            app.MapCicadaHttp();
        }

        return app;
    }

    /// <summary>Runs the broker until SIGTERM / Ctrl-C; returns the process exit code.</summary>
    public static async Task<int> RunAsync(ServerSettings settings, IConfiguration configuration, CancellationToken cancellationToken)
    {
        await using var app = Build(settings, configuration);
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Cicada.Server");


        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
        {
            // A port in use (Kestrel wraps it in IOException), an address not on this machine or a
            // privileged port (bare SocketException): a clear line and exit code 1, not a crash.
            LogStartFailed(logger, ex.Message);
            return 1;
        }

        var auth = app.Services.GetRequiredService<UsersFileAuthenticator>();
        LogStarted(logger, Version,
            settings.Mqtt.ToString(),
            settings.MqttTls.ToString(),
            settings.Http.ToString(),
            settings.Coap.ToString(),
            settings.Amqp.ToString(),
            settings.Storage == StorageKind.Sqlite ? $"sqlite {settings.DatabasePath}" : "memory",
            auth.AllowAnonymous ? "allowed" : "refused",
            auth.UsersFile is { Exists: true } file ? $"{file.Path} ({file.Count} users)" : $"{settings.UsersFile} (absent)");
        LogTlsListeners(logger, settings);

        await app.WaitForShutdownAsync(cancellationToken);
        LogStopped(logger);
        return 0;
    }

    private static void Listen(KestrelServerOptions kestrel, ListenAddress address, Action<ListenOptions> configure)
    {
        switch (address.Kind)
        {
            case ListenHostKind.Any:
                kestrel.ListenAnyIP(address.Port, configure);
                break;
            case ListenHostKind.Localhost:
                kestrel.ListenLocalhost(address.Port, configure);
                break;
            case ListenHostKind.Address:
                kestrel.Listen(address.Address!, address.Port, configure);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(address), address, "listener is off");
        }
    }

    /// <summary>
    /// The UDP address for a listener setting: <c>*</c> is IPv6-any in dual mode, <c>localhost</c>
    /// the IPv4 loopback (one socket; Kestrel binds both loopbacks for TCP).
    /// </summary>
    private static (System.Net.IPEndPoint EndPoint, bool DualMode) UdpEndPoint(ListenAddress address) => address.Kind switch
    {
        ListenHostKind.Any => (new System.Net.IPEndPoint(System.Net.IPAddress.IPv6Any, address.Port), true),
        ListenHostKind.Localhost => (new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, address.Port), false),
        ListenHostKind.Address => (new System.Net.IPEndPoint(address.Address!, address.Port), false),
        _ => throw new ArgumentOutOfRangeException(nameof(address), address, "listener is off"),
    };

    [LoggerMessage(EventId = 2, Level = LogLevel.Information,
        Message = "Cicada {Version} started: mqtt {Mqtt}; mqtts {MqttTls}; http {Http}; coap {Coap}; amqp {Amqp}; storage {Storage}; anonymous {Anonymous}; users file {UsersFile}")]
    private static partial void LogStarted(ILogger logger, string version, string mqtt, string mqttTls, string http, string coap, string amqp, string storage, string anonymous, string usersFile);

    [LoggerMessage(EventId = 3, Level = LogLevel.Critical, Message = "Cicada could not start: {Reason}")]
    private static partial void LogStartFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Cicada stopped")]
    private static partial void LogStopped(ILogger logger);
}
