using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using Cicada.Server.Hosting;

namespace Cicada.Server.Cli;

/// <summary>
/// The <c>cicada</c> command line. Option names are a contract (scripts and independent checks
/// use them): options may be added, never renamed. Exit codes: 0 done, 1 failed while running,
/// 2 bad usage or configuration (nothing was started).
/// </summary>
public sealed class CicadaCli
{
    public const int ExitOk = 0;
    public const int ExitFailure = 1;
    public const int ExitUsage = 2;

    private readonly CliContext _context;
    private readonly Command _root;
    private readonly Option<string?> _mqtt = ListenOption("--mqtt", "MQTT over TCP", CicadaConfiguration.MqttListen);
    private readonly Option<string?> _mqtts = TlsListenOption("--mqtts", "MQTT over TLS", ServerSettings.DefaultMqttTlsListen);
    private readonly Option<string?> _http = ListenOption("--http", "HTTP: REST, SSE, dashboard and MQTT over WebSocket (/mqtt)", CicadaConfiguration.HttpListen);
    private readonly Option<string?> _coap = ListenOption("--coap", "CoAP over UDP", CicadaConfiguration.CoapListen);
    private readonly Option<string?> _amqp = ListenOption("--amqp", "AMQP 0-9-1", CicadaConfiguration.AmqpListen);
    private readonly Option<string?> _amqps = TlsListenOption("--amqps", "AMQP 0-9-1 over TLS (AMQPS)", ServerSettings.DefaultAmqpTlsListen);
    private readonly Option<string?> _https = TlsListenOption("--https", "HTTPS and WSS (REST, SSE, dashboard, /mqtt WebSocket over TLS)", ServerSettings.DefaultHttpTlsListen);
    private readonly Option<string?> _data = DataOption();
    private readonly Option<string?> _storage = new("--storage")
    {
        Description = "Where sessions, queues and retained messages live: sqlite (durable, <data>/cicada.db) or memory (lost on exit) [default: sqlite]",
        HelpName = "sqlite|memory",
    };
    private readonly Option<string?> _config = ConfigOption();
    private readonly Option<string?> _logLevel = new("--log-level")
    {
        Description = $"Lowest level logged: {ServerSettings.LogLevelNames} [default: information]",
        HelpName = "LEVEL",
    };
    private readonly Option<string?> _logFormat = new("--log-format")
    {
        Description = "Log line format on standard output: text, or json (one JSON object per line, UTC timestamps) [default: text]",
        HelpName = "text|json",
    };

    public CicadaCli(CliContext context)
    {
        _context = context;

        _storage.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string?>();
            if (!ServerSettings.TryParseStorage(value, out _))
                result.AddError($"--storage: '{value}' is not sqlite or memory");
        });
        _logLevel.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string?>();
            if (!ServerSettings.TryParseLogLevel(value, out _))
                result.AddError($"--log-level: '{value}' is not one of {ServerSettings.LogLevelNames}");
        });

        _logFormat.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string?>();
            if (value is null || !CicadaLogging.TryParseFormat(value, out _))
                result.AddError($"--log-format: '{value}' is not one of {CicadaLogging.FormatNames}");
        });

        // A plain command named "cicada" rather than RootCommand, whose name would be the dll's.
        _root = new Command("cicada", "Cicada: one broker for MQTT (3.1, 3.1.1, 5.0), MQTT over WebSocket, HTTP, CoAP and AMQP 0-9-1 on one topic space.")
        {
            _mqtt, _mqtts, _http, _https, _coap, _amqp, _amqps, _data, _storage, _config, _logLevel, _logFormat,
            new HelpOption(), new VersionOption { Action = new PrintVersionAction() },
        };
        _root.Subcommands.Add(new PasswdCommand(context).Command);
        _root.Subcommands.Add(new CertCommand(context).Command);
        _root.SetAction(ServeAsync);
    }

    public Command Root => _root;

    /// <summary>Parses and runs <paramref name="args"/>; returns the process exit code.</summary>
    public static Task<int> RunAsync(string[] args, CliContext context) => new CicadaCli(context).InvokeAsync(args);

    public async Task<int> InvokeAsync(string[] args)
    {
        var parseResult = _root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            foreach (var error in parseResult.Errors)
                await _context.Error.WriteLineAsync($"cicada: {error.Message}");
            await _context.Error.WriteLineAsync("Run 'cicada --help' for usage.");
            return ExitUsage;
        }
        return await parseResult.InvokeAsync(new InvocationConfiguration
        {
            Output = _context.Out,
            Error = _context.Error,
            // The host's console lifetime owns SIGTERM / Ctrl-C and shuts down gracefully;
            // System.CommandLine's own handler would race it and force an exit code.
            ProcessTerminationTimeout = null,
        });
    }

    /// <summary>Maps the options given on the command line to configuration keys (the highest source).</summary>
    public Dictionary<string, string?> CommandLineConfiguration(ParseResult parseResult)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        void Map(Option<string?> option, string key)
        {
            // Only options actually given override lower sources; an absent one must not reset them.
            if (parseResult.GetResult(option) is { Implicit: false })
                values[key] = parseResult.GetValue(option);
        }
        Map(_mqtt, CicadaConfiguration.MqttListen);
        Map(_mqtts, CicadaConfiguration.MqttTlsListen);
        Map(_http, CicadaConfiguration.HttpListen);
        Map(_coap, CicadaConfiguration.CoapListen);
        Map(_amqp, CicadaConfiguration.AmqpListen);
        Map(_amqps, CicadaConfiguration.AmqpTlsListen);
        Map(_https, CicadaConfiguration.HttpTlsListen);
        Map(_data, CicadaConfiguration.StorageDataDir);
        Map(_storage, CicadaConfiguration.StorageKind);
        Map(_logLevel, CicadaConfiguration.LogLevelDefault);
        Map(_logFormat, CicadaLogging.FormatKey);
        return values;
    }

    /// <summary>Builds and checks the configuration the options describe; null (after printing why) when it is unusable.</summary>
    public (ServerSettings Settings, IConfiguration Configuration)? Resolve(ParseResult parseResult)
    {
        var configuration = BuildConfiguration(_context, parseResult.GetValue(_config), CommandLineConfiguration(parseResult));
        if (configuration is null)
            return null;
        var valid = ServerSettings.TryCreate(configuration, out var settings, out var errors);
        var problems = errors.Concat(ConfigurationRules.Validate(configuration)).Distinct(StringComparer.Ordinal).ToList();
        if (!valid || problems.Count > 0)
        {
            foreach (var error in problems)
                _context.Error.WriteLine($"cicada: {error}");
            return null;
        }
        return (settings, configuration);
    }

    /// <summary>The configuration stack, or null (after printing why) when <c>--config</c> is missing or not JSON.</summary>
    internal static IConfigurationRoot? BuildConfiguration(CliContext context, string? configFile, IReadOnlyDictionary<string, string?> commandLine)
    {
        try
        {
            return CicadaConfiguration.Build(context.BaseDirectory, configFile, context.Environment, commandLine);
        }
        catch (Exception ex) when (ex is FileNotFoundException or InvalidDataException or FormatException or IOException)
        {
            var reason = ex.InnerException is { } inner ? $"{ex.Message} ({inner.Message})" : ex.Message;
            context.Error.WriteLine($"cicada: --config: {reason}");
            return null;
        }
    }

    internal static Option<string?> DataOption() => new("--data")
    {
        Description = "Data folder: the SQLite database and, unless Auth:UsersFile says otherwise, the users file [default: ./data]",
        HelpName = "DIR",
    };

    internal static Option<string?> ConfigOption() => new("--config")
    {
        Description = "JSON configuration file, above appsettings.json and below CICADA_* variables and options",
        HelpName = "FILE",
    };

    private Task<int> ServeAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var resolved = Resolve(parseResult);
        if (resolved is not { } r)
            return Task.FromResult(ExitUsage);
        return _context.Serve(r.Settings, r.Configuration, cancellationToken);
    }

    /// <summary>Prints Cicada's own version (the default prints the entry assembly's, which in-process is the host's).</summary>
    private sealed class PrintVersionAction : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(CicadaServer.InformationalVersion);
            return ExitOk;
        }
    }

    /// <summary>A TLS listener: on its default address once <c>Tls:CertificateFile</c> is set, else off.</summary>
    private static Option<string?> TlsListenOption(string name, string what, string defaultAddress)
    {
        var option = new Option<string?>(name)
        {
            Description = $"{what} listener: HOST:PORT or off [default: {defaultAddress} when Tls:CertificateFile is set, else off]",
            HelpName = "HOST:PORT|off",
        };
        option.Validators.Add(result =>
        {
            if (!ListenAddress.TryParse(result.GetValueOrDefault<string?>(), out _, out var error))
                result.AddError($"{name}: {error}");
        });
        return option;
    }

    private static Option<string?> ListenOption(string name, string what, string key)
    {
        var option = new Option<string?>(name)
        {
            Description = $"{what} listener: HOST:PORT or off; HOST is an IPv4 address, [IPv6], localhost, * or 0.0.0.0 [default: {CicadaConfiguration.Defaults[key]}]",
            HelpName = "HOST:PORT|off",
        };
        option.Validators.Add(result =>
        {
            if (!ListenAddress.TryParse(result.GetValueOrDefault<string?>(), out _, out var error))
                result.AddError($"{name}: {error}");
        });
        return option;
    }
}
