using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Cicada.Interop.Tests.Infrastructure;

public enum BrokerKind
{
    Cicada,
    Mosquitto,
}

/// <summary>How a test wants its broker configured; each maps onto both brokers' own settings.</summary>
public sealed record BrokerSettings
{
    /// <summary>cicada: <c>--storage sqlite</c> (else memory); mosquitto: <c>persistence true</c>.</summary>
    public bool Durable { get; init; }

    /// <summary>cicada: <c>Mqtt:MaxPacketSize</c>; mosquitto: <c>max_packet_size</c>.</summary>
    public int? MaxPacketSize { get; init; }

    /// <summary>User name → password, written with the broker's own password tool.</summary>
    public IReadOnlyDictionary<string, string>? Users { get; init; }

    public bool AllowAnonymous { get; init; } = true;

    /// <summary>cicada: <c>Mqtt:OutboundTopicAliases</c> (mosquitto never sends aliases).</summary>
    public bool OutboundTopicAliases { get; init; }

    /// <summary>cicada: <c>Mqtt:MaxKeepAliveSeconds</c>; mosquitto: <c>max_keepalive</c>.</summary>
    public int? MaxKeepAliveSeconds { get; init; }
}

/// <summary>
/// The broker under test as a real child process on a free loopback port: Cicada's own executable
/// or Debian's mosquitto, chosen by <c>CICADA_TEST_BROKER</c> (<c>cicada</c>, the default, or
/// <c>mosquitto</c>). It keeps its data folder and port across <see cref="KillAsync"/> /
/// <see cref="StopAsync"/> and <see cref="StartAsync()"/>, so tests can crash and restart it.
/// </summary>
public sealed class BrokerProcess : IAsyncDisposable
{
    private readonly BrokerSettings _settings;
    private readonly string _workDirectory;
    private readonly StringBuilder _history = new();
    private ExternalProcess? _process;
    private string? _configFile;

    private BrokerProcess(BrokerSettings settings)
    {
        _settings = settings;
        _workDirectory = Directory.CreateTempSubdirectory("cicada-it-").FullName;
        DataDirectory = Path.Combine(_workDirectory, "data");
        Directory.CreateDirectory(DataDirectory);
        Port = TestPorts.FreeTcpPort();
    }

    public static BrokerKind Kind { get; } = ReadKind();

    public static bool IsMosquitto => Kind == BrokerKind.Mosquitto;

    public int Port { get; }

    public string DataDirectory { get; }

    public BrokerSettings Settings => _settings;

    /// <summary>Everything the broker printed, across restarts — attach it to failure messages.</summary>
    public string Output => _history + (_process?.AllOutput ?? "");

    public static async Task<BrokerProcess> StartAsync(BrokerSettings? settings = null)
    {
        var broker = new BrokerProcess(settings ?? new BrokerSettings());
        try
        {
            await broker.PrepareAsync();
            await broker.StartAsync();
            return broker;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    /// <summary>(Re)starts the broker on the same port and data folder and waits until it accepts connections.</summary>
    public async Task StartAsync()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("The broker is already running.");
        }

        ArchiveOutput();
        _process = Kind == BrokerKind.Cicada ? StartCicada() : StartMosquitto();
        var deadline = DateTime.UtcNow + Timeouts.BrokerStart;
        while (true)
        {
            if (_process.HasExited)
            {
                var result = await _process.WaitForExitAsync(TimeSpan.FromSeconds(5));
                throw new InvalidOperationException($"The {Kind} broker exited during start-up ({result.ExitCode}).\n{Output}");
            }

            if (await TestPorts.AcceptsAsync(Port) && !_process.HasExited)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                _process.Kill();
                throw new TimeoutException($"The {Kind} broker did not accept connections on port {Port} within {Timeouts.BrokerStart}.\n{Output}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary><c>kill -9</c>: no flush, no goodbye — what a power cut looks like to the broker.</summary>
    public async Task KillAsync()
    {
        var process = _process ?? throw new InvalidOperationException("The broker is not running.");
        process.Kill();
        await process.WaitForExitAsync(Timeouts.BrokerStart);
    }

    /// <summary>SIGTERM and wait: a graceful shutdown.</summary>
    public async Task StopAsync()
    {
        var process = _process ?? throw new InvalidOperationException("The broker is not running.");
        await process.TerminateAsync(Timeouts.BrokerStart);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        try
        {
            Directory.Delete(_workDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// The server this repository builds, unless <c>CICADA_SERVER_DLL</c> names another build
    /// (a published one, or another checkout's) to run the same suite against.
    /// </summary>
    public static string CicadaServerDll =>
        Environment.GetEnvironmentVariable("CICADA_SERVER_DLL") is { Length: > 0 } overridden
            ? Path.GetFullPath(overridden)
            : Repository.ServerDll;

    private async Task PrepareAsync()
    {
        string? usersFile = null;
        if (_settings.Users is { Count: > 0 } users)
        {
            usersFile = Path.Combine(_workDirectory, "users");
            var first = true;
            foreach (var (user, password) in users)
            {
                var result = Kind == BrokerKind.Cicada
                    ? await ExternalProcess.RunAsync(Repository.DotnetHost, [CicadaServerDll, "passwd", "--file", usersFile, user, "--password", password])
                    : await ExternalProcess.RunAsync("mosquitto_passwd", first ? ["-b", "-c", usersFile, user, password] : ["-b", usersFile, user, password]);
                Assert.True(result.ExitCode == 0, $"Creating the users file with the {Kind} password tool failed: {result}");
                first = false;
            }
        }

        _configFile = Kind == BrokerKind.Cicada ? WriteCicadaConfig(usersFile) : WriteMosquittoConfig(usersFile);
    }

    private string WriteCicadaConfig(string? usersFile)
    {
        var mqtt = new Dictionary<string, object>();
        if (_settings.MaxPacketSize is { } max)
        {
            mqtt["MaxPacketSize"] = max;
        }

        if (_settings.OutboundTopicAliases)
        {
            mqtt["OutboundTopicAliases"] = true;
        }

        if (_settings.MaxKeepAliveSeconds is { } keepAlive)
        {
            mqtt["MaxKeepAliveSeconds"] = keepAlive;
        }

        var auth = new Dictionary<string, object> { ["AllowAnonymous"] = _settings.AllowAnonymous };
        if (usersFile is not null)
        {
            auth["UsersFile"] = usersFile;
        }

        var path = Path.Combine(_workDirectory, "cicada.json");
        File.WriteAllText(path, JsonSerializer.Serialize(new Dictionary<string, object> { ["Mqtt"] = mqtt, ["Auth"] = auth }));
        return path;
    }

    private string WriteMosquittoConfig(string? usersFile)
    {
        var conf = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"listener {Port} 127.0.0.1")
            .AppendLine(CultureInfo.InvariantCulture, $"allow_anonymous {(_settings.AllowAnonymous ? "true" : "false")}")
            // The suite runs as root here; without this mosquitto would drop to the `mosquitto` user
            // and lose access to the temp folders it is given.
            .AppendLine("user root")
            .AppendLine("log_dest stdout")
            .AppendLine("log_type error")
            .AppendLine("log_type warning")
            .AppendLine("log_type notice")
            .AppendLine("log_type information");
        if (_settings.Durable)
        {
            conf.AppendLine("persistence true")
                .AppendLine(CultureInfo.InvariantCulture, $"persistence_location {DataDirectory}/")
                .AppendLine("autosave_interval 1");
        }

        if (_settings.MaxPacketSize is { } max)
        {
            conf.AppendLine(CultureInfo.InvariantCulture, $"max_packet_size {max}");
        }

        if (_settings.MaxKeepAliveSeconds is { } keepAlive)
        {
            conf.AppendLine(CultureInfo.InvariantCulture, $"max_keepalive {keepAlive}");
        }

        if (usersFile is not null)
        {
            conf.AppendLine(CultureInfo.InvariantCulture, $"password_file {usersFile}");
        }

        var path = Path.Combine(_workDirectory, "mosquitto.conf");
        File.WriteAllText(path, conf.ToString());
        return path;
    }

    private ExternalProcess StartCicada()
    {
        var dll = CicadaServerDll;
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"Cicada.Server is not built at {dll}; build tests/Cicada.Interop.Tests (it builds the server) first.");
        }

        string[] arguments =
        [
            dll,
            "--mqtt", $"127.0.0.1:{Port}",
            "--http", "off",
            "--coap", "off",
            "--amqp", "off",
            "--storage", _settings.Durable ? "sqlite" : "memory",
            "--data", DataDirectory,
            "--config", _configFile!,
        ];
        var environment = new Dictionary<string, string>();
        if (_settings.MaxPacketSize is { } max)
        {
            // Belt and braces next to the config file: the environment form of Mqtt:MaxPacketSize.
            environment["CICADA_MQTT__MAXPACKETSIZE"] = max.ToString(CultureInfo.InvariantCulture);
        }

        return ExternalProcess.Start(Repository.DotnetHost, arguments, environment);
    }

    private ExternalProcess StartMosquitto()
    {
        var executable = File.Exists("/usr/sbin/mosquitto") ? "/usr/sbin/mosquitto" : "mosquitto";
        return ExternalProcess.Start(executable, ["-c", _configFile!]);
    }

    private void ArchiveOutput()
    {
        if (_process is not null)
        {
            _history.AppendLine("=== previous broker run ===").AppendLine(_process.AllOutput);
        }
    }

    private static BrokerKind ReadKind()
    {
        var value = Environment.GetEnvironmentVariable("CICADA_TEST_BROKER");
        return value?.Trim().ToUpperInvariant() switch
        {
            null or "" or "CICADA" => BrokerKind.Cicada,
            "MOSQUITTO" => BrokerKind.Mosquitto,
            _ => throw new InvalidOperationException($"CICADA_TEST_BROKER must be 'cicada' or 'mosquitto', not '{value}'."),
        };
    }
}
