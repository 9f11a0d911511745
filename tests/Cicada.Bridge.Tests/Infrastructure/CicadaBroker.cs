using System.Text.Json;

namespace Cicada.Bridge.Tests.Infrastructure;

/// <summary>
/// The real <c>cicada</c> (the server built by this repository, run with <c>dotnet</c>) with a
/// configuration file holding the bridges under test, SQLite storage in its own folder, MQTT on a
/// free loopback port. Restartable with the same data, port and configuration.
/// </summary>
public sealed class CicadaBroker : IAsyncDisposable
{
    private readonly string _directory;
    private readonly string _configFile;
    private readonly List<string> _history = [];
    private ExternalProcess? _process;

    private CicadaBroker(object[] bridges)
    {
        _directory = Directory.CreateTempSubdirectory("cicada-bridge-").FullName;
        Port = TestPorts.FreeTcpPort();
        _configFile = Path.Combine(_directory, "cicada.json");
        var config = new Dictionary<string, object>
        {
            ["Bridges"] = bridges,
            // Debug: the "subscribed" line tells a test when the remote subscriptions are in place.
            ["Logging"] = new { LogLevel = new Dictionary<string, string> { ["Cicada.Bridge"] = "Debug" } },
        };
        File.WriteAllText(_configFile, JsonSerializer.Serialize(config));
    }

    public int Port { get; }

    /// <summary>Every line cicada printed, across restarts.</summary>
    public IReadOnlyList<string> Lines => [.. _history, .. _process?.Lines ?? []];

    public string Output => string.Join('\n', Lines);

    public static async Task<CicadaBroker> StartAsync(params object[] bridges)
    {
        var broker = new CicadaBroker(bridges);
        try
        {
            await broker.StartAsync();
            return broker;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    public async Task StartAsync()
    {
        if (_process is not null)
        {
            _history.AddRange(_process.Lines);
            await _process.DisposeAsync();
        }

        _process = ExternalProcess.Start(Repository.DotnetHost,
        [
            Repository.ServerDll, "--mqtt", $"127.0.0.1:{Port}", "--http", "off", "--coap", "off", "--amqp", "off",
            "--storage", "sqlite", "--data", Path.Combine(_directory, "data"), "--config", _configFile,
        ]);
        await TestPorts.WaitUntilListeningAsync(_process, Port, Timeouts.Wait, "cicada", () => Output);
    }

    public async Task StopAsync() => await _process!.TerminateAsync(Timeouts.Wait);

    /// <summary>Waits until <paramref name="count"/> lines (across restarts) contain <paramref name="text"/>.</summary>
    public async Task WaitForLogAsync(string text, int count = 1)
    {
        var before = _history.Count(l => l.Contains(text, StringComparison.Ordinal));
        if (before >= count)
        {
            return;
        }

        try
        {
            await _process!.WaitForLinesAsync(l => l.Contains(text, StringComparison.Ordinal), count - before, Timeouts.Wait, $"'{text}' x{count}");
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            throw new TimeoutException($"cicada did not log '{text}' {count} time(s).\n{Output}", ex);
        }
    }

    public int CountLog(string text) => Lines.Count(l => l.Contains(text, StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
