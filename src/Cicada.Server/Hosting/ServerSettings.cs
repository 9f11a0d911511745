using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Cicada.Server.Hosting;

public enum StorageKind
{
    Sqlite,
    Memory,
}

/// <summary>
/// The host-level settings, read from the merged configuration and checked before anything
/// starts, so a bad value from any source (file, variable, option) stops the broker with a message
/// naming the key instead of failing half-way through startup.
/// </summary>
public sealed record ServerSettings(
    ListenAddress Mqtt,
    ListenAddress Http,
    ListenAddress Coap,
    ListenAddress Amqp,
    StorageKind Storage,
    string DataDirectory,
    string UsersFile,
    LogLevel LogLevel)
{
    public string DatabasePath => Path.Combine(DataDirectory, "cicada.db");

    /// <summary>MQTT over TLS (<c>--mqtts</c>); off unless a certificate is configured.</summary>
    public ListenAddress MqttTls { get; init; } = ListenAddress.Off;

    /// <summary>AMQP 0-9-1 over TLS (<c>--amqps</c>); off unless a certificate is configured.</summary>
    public ListenAddress AmqpTls { get; init; } = ListenAddress.Off;

    /// <summary>The HTTP edge (REST, SSE, dashboard, <c>/mqtt</c> WebSocket) over TLS (<c>--https</c>); off unless a certificate is configured.</summary>
    public ListenAddress HttpTls { get; init; } = ListenAddress.Off;

    /// <summary>True when the HTTP app is served on some listener, plain or TLS.</summary>
    public bool ServesHttp => !Http.IsOff || !HttpTls.IsOff;

    /// <summary>True when no TCP listener but the plain-TCP MQTT one is configured.</summary>
    public bool NoKestrelListenerBesideMqtt => MqttTls.IsOff && Amqp.IsOff && AmqpTls.IsOff && Http.IsOff && HttpTls.IsOff;

    /// <summary>True when no TCP listener at all is configured (CoAP is UDP).</summary>
    public bool NoTcpListener => Mqtt.IsOff && MqttTls.IsOff && Amqp.IsOff && AmqpTls.IsOff && Http.IsOff && HttpTls.IsOff;

    /// <summary>The certificate and client-certificate rules of every TLS listener; null = no TLS.</summary>
    public TlsSettings? Tls { get; init; }

    /// <summary>How long a SQLite write waits for a lock another process holds before it fails (<c>Storage:BusyTimeoutSeconds</c>).</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Where MQTT over TLS listens when a certificate is configured and <c>--mqtts</c> is not given.</summary>
    public const string DefaultMqttTlsListen = "0.0.0.0:8883";

    /// <summary>Where AMQPS listens when a certificate is configured and <c>--amqps</c> is not given (IANA's amqps port).</summary>
    public const string DefaultAmqpTlsListen = "0.0.0.0:5671";

    /// <summary>Where HTTPS/WSS listens when a certificate is configured and <c>--https</c> is not given.</summary>
    public const string DefaultHttpTlsListen = "0.0.0.0:8443";

    public static bool TryCreate(IConfiguration configuration, out ServerSettings settings, out IReadOnlyList<string> errors)
    {
        var problems = new List<string>();

        ListenAddress Listen(string key)
        {
            var value = configuration[key];
            if (ListenAddress.TryParse(value, out var address, out var error))
                return address;
            problems.Add($"{key}: {error}");
            return ListenAddress.Off;
        }

        var mqtt = Listen(CicadaConfiguration.MqttListen);
        var http = Listen(CicadaConfiguration.HttpListen);
        var coap = Listen(CicadaConfiguration.CoapListen);
        var amqp = Listen(CicadaConfiguration.AmqpListen);

        var tls = TlsSettings.TryCreate(configuration, problems);

        // A TLS listener with no address configured listens on its default port once a certificate
        // is configured; one configured explicitly needs the certificate.
        ListenAddress TlsListen(string key, string defaultAddress)
        {
            if (string.IsNullOrWhiteSpace(configuration[key]))
                return tls is null ? ListenAddress.Off : ListenAddress.Parse(defaultAddress);
            var address = Listen(key);
            if (!address.IsOff && tls is null)
                problems.Add($"{key}: {address} needs a certificate ({TlsSettings.CertificateFileKey}, {TlsSettings.KeyFileKey})");
            return address;
        }

        var mqttTls = TlsListen(CicadaConfiguration.MqttTlsListen, DefaultMqttTlsListen);
        var amqpTls = TlsListen(CicadaConfiguration.AmqpTlsListen, DefaultAmqpTlsListen);
        var httpTls = TlsListen(CicadaConfiguration.HttpTlsListen, DefaultHttpTlsListen);

        var storageText = configuration[CicadaConfiguration.StorageKind];
        if (!TryParseStorage(storageText, out var storage))
            problems.Add($"{CicadaConfiguration.StorageKind}: '{storageText}' is not sqlite or memory");

        var dataDirectory = configuration[CicadaConfiguration.StorageDataDir];
        if (string.IsNullOrWhiteSpace(dataDirectory))
        {
            problems.Add($"{CicadaConfiguration.StorageDataDir}: must name a directory");
            dataDirectory = ".";
        }
        dataDirectory = Path.GetFullPath(dataDirectory);

        // Range-checked by ConfigurationRules; a bad value is reported there, not twice.
        var busyTimeout = int.TryParse(configuration[CicadaConfiguration.StorageBusyTimeoutSeconds], System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var busySeconds) && busySeconds is >= 1 and <= 3600 ? busySeconds : 5;

        var usersFile = configuration[CicadaConfiguration.AuthUsersFile];
        usersFile = string.IsNullOrWhiteSpace(usersFile)
            ? DefaultUsersFile(dataDirectory)
            : Path.GetFullPath(usersFile);

        var aclFile = configuration[CicadaConfiguration.AuthAclFile];
        if (!string.IsNullOrWhiteSpace(aclFile))
        {
            // Checked here so a typo stops the broker with a message instead of denying everything.
            var path = Path.GetFullPath(aclFile);
            if (!File.Exists(path))
                problems.Add($"{CicadaConfiguration.AuthAclFile}: '{path}' does not exist");
            else if (Cicada.Core.Auth.AclRules.Parse(File.ReadAllText(path), path).Errors is { Count: > 0 } aclErrors)
                problems.Add($"{CicadaConfiguration.AuthAclFile}: {string.Join("; ", aclErrors)}");
        }

        var anonymous = configuration[CicadaConfiguration.AuthAllowAnonymous];
        if (anonymous is not null && !bool.TryParse(anonymous, out _))
            problems.Add($"{CicadaConfiguration.AuthAllowAnonymous}: '{anonymous}' is not true or false");

        var levelText = configuration[CicadaConfiguration.LogLevelDefault];
        if (!TryParseLogLevel(levelText, out var level))
            problems.Add($"{CicadaConfiguration.LogLevelDefault}: '{levelText}' is not one of {LogLevelNames}");

        settings = new ServerSettings(mqtt, http, coap, amqp, storage, dataDirectory, usersFile, level)
        {
            MqttTls = mqttTls,
            AmqpTls = amqpTls,
            HttpTls = httpTls,
            Tls = tls,
            BusyTimeout = TimeSpan.FromSeconds(busyTimeout),
        };
        errors = problems;
        return problems.Count == 0;
    }

    /// <summary>Where users live when <c>Auth:UsersFile</c> is not set: beside the database.</summary>
    public static string DefaultUsersFile(string dataDirectory) => Path.Combine(Path.GetFullPath(dataDirectory), "users");

    public const string LogLevelNames = "trace, debug, information, warning, error, critical, none";

    public static bool TryParseStorage(string? text, out StorageKind kind)
    {
        kind = StorageKind.Sqlite;
        switch (text?.Trim().ToUpperInvariant())
        {
            case "SQLITE":
                return true;
            case "MEMORY":
                kind = StorageKind.Memory;
                return true;
            default:
                return false;
        }
    }

    public static bool TryParseLogLevel(string? text, out LogLevel level)
    {
        level = LogLevel.Information;
        // Names only: Enum.TryParse would also take numbers ("7") and comma lists ("debug,error").
        var name = text?.Trim();
        return !string.IsNullOrEmpty(name)
            && name.All(char.IsAsciiLetter)
            && Enum.TryParse(name, ignoreCase: true, out level);
    }
}
