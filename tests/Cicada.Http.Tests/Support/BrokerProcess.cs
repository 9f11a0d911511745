using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

// The suite drives Linux tools (curl, mosquitto clients, node, chromium).
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]

namespace Cicada.Http.Tests.Support;

/// <summary>The real <c>cicada</c> process with MQTT and HTTP on free loopback ports.</summary>
public sealed class BrokerProcess : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private readonly Process _process;

    private BrokerProcess(string dataDirectory, string storage, bool ownsData, IReadOnlyDictionary<string, string>? environment)
    {
        DataDirectory = dataDirectory;
        OwnsData = ownsData;
        MqttPort = TestPorts.FreeTcpPort();
        HttpPort = TestPorts.FreeTcpPort();
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }

        foreach (var arg in new[]
        {
            Repository.ServerDll, "--mqtt", $"127.0.0.1:{MqttPort}", "--http", $"127.0.0.1:{HttpPort}", "--coap", "off", "--amqp", "off",
            "--storage", storage, "--data", dataDirectory,
        })
        {
            psi.ArgumentList.Add(arg);
        }

        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int MqttPort { get; }
    public int HttpPort { get; }
    public string DataDirectory { get; }
    private bool OwnsData { get; }
    public string BaseUrl => $"http://127.0.0.1:{HttpPort}";
    public string WebSocketUrl => $"ws://127.0.0.1:{HttpPort}/mqtt";

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    /// <summary>Starts a broker and waits until its HTTP listener answers <c>/healthz</c>.</summary>
    /// <param name="environment">Extra settings as <c>CICADA_*</c> variables (e.g. <c>CICADA_HTTP__STREAMREPLAYMESSAGES</c>).</param>
    public static async Task<BrokerProcess> StartAsync(string storage = "memory", string? dataDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var owns = dataDirectory is null;
        dataDirectory ??= Path.Combine(Path.GetTempPath(), "cicada-http-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDirectory);
        var broker = new BrokerProcess(dataDirectory, storage, owns, environment);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (broker._process.HasExited)
            {
                break;
            }

            try
            {
                using var response = await http.GetAsync(broker.BaseUrl + "/healthz");
                if (response.IsSuccessStatusCode)
                {
                    return broker;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        var output = broker.Output;
        await broker.DisposeAsync();
        throw new InvalidOperationException($"The broker did not start:\n{output}");
    }

    /// <summary>Stops the process gracefully (SIGTERM), as an operator would.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        Tools.Run("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(5));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
        if (OwnsData)
        {
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>One broker shared by the tests of a class (each test uses its own topics and ids).</summary>
public sealed class BrokerFixture : IAsyncLifetime
{
    private BrokerProcess? _broker;

    public BrokerProcess Broker => _broker ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _broker = await BrokerProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }
    }
}

internal static class Repo
{
    public static string JsDirectory { get; } = Path.Combine(Repository.Root, "tests", "Cicada.Http.Tests", "js");
}
