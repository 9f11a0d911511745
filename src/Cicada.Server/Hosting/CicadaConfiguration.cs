using System.Collections;
using Microsoft.Extensions.Configuration;

namespace Cicada.Server.Hosting;

/// <summary>
/// The configuration stack, lowest first: embedded defaults, <c>appsettings.json</c> beside the
/// binary, <c>--config FILE</c>, <c>CICADA_*</c> environment variables, command-line options. It
/// is built by hand rather than by the host's defaults so that it reads exactly these sources (the
/// host's would add <c>appsettings.json</c> from the working directory, <c>ASPNETCORE_*</c> and
/// <c>DOTNET_*</c> variables and raw <c>--key=value</c> arguments).
/// </summary>
public static class CicadaConfiguration
{
    public const string EnvironmentPrefix = "CICADA_";
    public const string AppSettingsFileName = "appsettings.json";

    public const string MqttListen = "Mqtt:Listen";

    /// <summary>MQTT over TLS; unset = 0.0.0.0:8883 when a certificate is configured, else off.</summary>
    public const string MqttTlsListen = "Mqtt:TlsListen";
    public const string HttpListen = "Http:Listen";

    /// <summary>HTTPS and WSS (the HTTP edge over TLS); unset = 0.0.0.0:8443 when a certificate is configured, else off.</summary>
    public const string HttpTlsListen = "Http:TlsListen";
    public const string CoapListen = "Coap:Listen";
    public const string AmqpListen = "Amqp:Listen";

    /// <summary>AMQPS (AMQP 0-9-1 over TLS); unset = 0.0.0.0:5671 when a certificate is configured, else off.</summary>
    public const string AmqpTlsListen = "Amqp:TlsListen";
    public const string StorageKind = "Storage:Kind";
    public const string StorageDataDir = "Storage:DataDir";
    public const string StorageBusyTimeoutSeconds = "Storage:BusyTimeoutSeconds";
    public const string AuthAllowAnonymous = "Auth:AllowAnonymous";
    public const string AuthUsersFile = "Auth:UsersFile";
    public const string AuthAclFile = "Auth:AclFile";
    public const string LogLevelDefault = "Logging:LogLevel:Default";

    /// <summary>What Cicada does with no file, variable or option at all; appsettings.json repeats these.</summary>
    public static IReadOnlyDictionary<string, string?> Defaults { get; } = new Dictionary<string, string?>
    {
        [MqttListen] = "0.0.0.0:1883",
        [HttpListen] = "0.0.0.0:8080",
        [CoapListen] = "0.0.0.0:5683",
        [AmqpListen] = "0.0.0.0:5672",
        [StorageKind] = "sqlite",
        [StorageDataDir] = "./data",
        [AuthAllowAnonymous] = "true",
        [LogLevelDefault] = "Information",
        // Kestrel and the host log lifecycle chatter at Information; keep the broker's own lines readable.
        ["Logging:LogLevel:Microsoft"] = "Warning",
    };

    /// <param name="baseDirectory">Folder of the binary, where <c>appsettings.json</c> is looked for.</param>
    /// <param name="configFile">The <c>--config</c> file (must exist), or null.</param>
    /// <param name="environment">Environment variables (all of them; only <c>CICADA_*</c> are read).</param>
    /// <param name="commandLine">Configuration keys set by command-line options.</param>
    /// <exception cref="FileNotFoundException">The <c>--config</c> file does not exist.</exception>
    /// <exception cref="InvalidDataException">A JSON file could not be parsed.</exception>
    public static IConfigurationRoot Build(
        string baseDirectory,
        string? configFile,
        IDictionary environment,
        IReadOnlyDictionary<string, string?> commandLine)
    {
        var builder = new ConfigurationBuilder()
            .AddInMemoryCollection(Defaults)
            .AddJsonFile(Path.Combine(Path.GetFullPath(baseDirectory), AppSettingsFileName), optional: true, reloadOnChange: false);
        if (configFile is not null)
        {
            var fullPath = Path.GetFullPath(configFile);
            if (!File.Exists(fullPath))
                throw new FileNotFoundException($"configuration file '{configFile}' does not exist", fullPath);
            builder.AddJsonFile(fullPath, optional: false, reloadOnChange: false);
        }
        builder.AddInMemoryCollection(FromEnvironment(environment));
        builder.AddInMemoryCollection(commandLine);
        return builder.Build();
    }

    /// <summary>
    /// <c>CICADA_MQTT__LISTEN=…</c> → <c>MQTT:LISTEN</c>, as the .NET environment-variable provider
    /// maps them (<c>__</c> is the section separator; keys are case-insensitive). Taking the variables
    /// as a dictionary lets tests run without touching the process environment.
    /// </summary>
    public static Dictionary<string, string?> FromEnvironment(IDictionary environment)
    {
        var result = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in environment)
        {
            if (entry.Key is not string key || !key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
                continue;
            var name = key[EnvironmentPrefix.Length..].Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal);
            if (name.Length > 0)
                result[name] = entry.Value as string;
        }
        return result;
    }
}
