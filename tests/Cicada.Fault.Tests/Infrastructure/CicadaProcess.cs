using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Cicada.Fault.Tests.Infrastructure;

/// <summary>Which edges and settings a fault test wants; every edge it does not name is off.</summary>
public sealed record ServerSettings
{
    public bool Sqlite { get; init; } = true;

    public bool Http { get; init; }

    public bool Amqp { get; init; }

    public bool Coap { get; init; }

    /// <summary>A data folder the test prepared (a size-limited tmpfs, say); a fresh temp folder otherwise.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Extra settings as <c>CICADA_*</c> environment variables (<c>CICADA_BROKER__MAXQUEUEDMESSAGES</c>).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// The real <c>cicada</c> executable as a child process on free loopback ports. Ports and data
/// folder survive <see cref="Kill"/> and <see cref="TerminateAsync"/>, so a test can crash the
/// broker and start it again on the same state.
/// </summary>
public sealed class CicadaProcess : IAsyncDisposable
{
    private readonly ServerSettings _settings;
    private readonly string _workDirectory;
    private readonly StringBuilder _history = new();
    private ExternalProcess? _process;

    private CicadaProcess(ServerSettings settings)
    {
        _settings = settings;
        _workDirectory = Directory.CreateTempSubdirectory("cicada-fault-").FullName;
        DataDirectory = settings.DataDirectory ?? Path.Combine(_workDirectory, "data");
        Directory.CreateDirectory(DataDirectory);
        MqttPort = TestPorts.FreePort(SocketType.Stream);
        HttpPort = settings.Http ? TestPorts.FreePort(SocketType.Stream) : 0;
        AmqpPort = settings.Amqp ? TestPorts.FreePort(SocketType.Stream) : 0;
        CoapPort = settings.Coap ? TestPorts.FreePort(SocketType.Dgram) : 0;
    }

    public int MqttPort { get; }

    public int HttpPort { get; }

    public int AmqpPort { get; }

    public int CoapPort { get; }

    public string DataDirectory { get; }

    public int ProcessId => _process?.Id ?? throw new InvalidOperationException("The broker is not running.");

    public bool HasExited => _process?.HasExited ?? true;

    /// <summary>Everything the broker printed, across restarts; failure messages carry it.</summary>
    public string Output => _history + (_process?.AllOutput ?? "");

    public static async Task<CicadaProcess> StartAsync(ServerSettings? settings = null)
    {
        var server = new CicadaProcess(settings ?? new ServerSettings());
        try
        {
            await server.StartAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>(Re)starts on the same ports and data folder; returns once every TCP listener accepts.</summary>
    public async Task StartAsync()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("The broker is already running.");
        }

        if (_process is not null)
        {
            _history.AppendLine("=== previous run ===").AppendLine(_process.AllOutput);
            await _process.DisposeAsync();
        }

        _process = ExternalProcess.Start(Repository.DotnetHost, Arguments(), _settings.Environment);
        var deadline = DateTime.UtcNow + Timeouts.BrokerStart;
        foreach (var port in new[] { MqttPort, HttpPort, AmqpPort }.Where(p => p != 0))
        {
            while (!await TestPorts.AcceptsAsync(port))
            {
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"cicada exited during start-up.\n{Output}");
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"cicada did not listen on {port} within {Timeouts.BrokerStart}.\n{Output}");
                }

                await Task.Delay(50);
            }
        }

        if (CoapPort != 0)
        {
            await _process.WaitForLineAsync(l => l.Contains("CoAP", StringComparison.OrdinalIgnoreCase) && l.Contains(CoapPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal),
                Timeouts.BrokerStart, "the CoAP listening line");
        }
    }

    /// <summary><c>kill -9</c>: no flush, no goodbye, what a power cut looks like to the broker.</summary>
    public async Task KillAsync()
    {
        var process = _process ?? throw new InvalidOperationException("The broker is not running.");
        process.Kill();
        await process.WaitForExitAsync(Timeouts.BrokerStart);
    }

    /// <summary>SIGTERM; returns the exit code and how long the broker took to exit.</summary>
    public async Task<(int ExitCode, TimeSpan Elapsed)> TerminateAsync(TimeSpan bound)
    {
        var process = _process ?? throw new InvalidOperationException("The broker is not running.");
        var watch = Stopwatch.StartNew();
        var signal = await ExternalProcess.RunAsync("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]);
        Assert.True(signal.ExitCode == 0, $"kill -TERM failed: {signal}");
        var result = await process.WaitForExitAsync(bound);
        return (result.ExitCode, watch.Elapsed);
    }

    /// <summary>Resident set size (<c>VmRSS</c> of /proc/PID/status) in bytes.</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{ProcessId}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                return kb * 1024;
            }
        }

        throw new InvalidOperationException("No VmRSS line in /proc status.");
    }

    /// <summary>Sums every sample of a Prometheus metric family on <c>/metrics</c> (0 when absent).</summary>
    public async Task<double> MetricAsync(string name)
    {
        using var http = new HttpClient { Timeout = Timeouts.Packet };
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{HttpPort}/metrics"));
        double sum = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(name, StringComparison.Ordinal) && line.Length > name.Length && line[name.Length] is ' ' or '{')
            {
                sum += double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return sum;
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
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    private List<string> Arguments()
    {
        string Listen(int port) => port == 0 ? "off" : $"127.0.0.1:{port}";
        return
        [
            Repository.ServerDll,
            "--mqtt", Listen(MqttPort),
            "--http", Listen(HttpPort),
            "--amqp", Listen(AmqpPort),
            "--coap", Listen(CoapPort),
            "--storage", _settings.Sqlite ? "sqlite" : "memory",
            "--data", DataDirectory,
        ];
    }
}
