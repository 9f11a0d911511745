using System.Globalization;
using System.Text;

namespace Cicada.Bridge.Tests.Infrastructure;

/// <summary>
/// Debian's mosquitto as the remote broker, on a free loopback port, restartable on the same port
/// and (with <c>persistent</c>) the same database, so a test can take the remote away and bring it back.
/// </summary>
public sealed class MosquittoBroker : IAsyncDisposable
{
    private readonly string _directory;
    private readonly string _configFile;
    private readonly StringBuilder _history = new();
    private ExternalProcess? _process;

    private MosquittoBroker(bool persistent, string? extraConfig)
    {
        _directory = System.IO.Directory.CreateTempSubdirectory("cicada-bridge-mosquitto-").FullName;
        Port = TestPorts.FreeTcpPort();
        var conf = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"listener {Port} 127.0.0.1")
            .AppendLine("allow_anonymous true")
            // Run as root (as CI does), mosquitto would otherwise switch to the mosquitto user and
            // lose access to its temp folder.
            .AppendLine("user root")
            .AppendLine("log_dest stdout")
            .AppendLine("log_type all");
        if (persistent)
        {
            conf.AppendLine("persistence true")
                .AppendLine(CultureInfo.InvariantCulture, $"persistence_location {_directory}/")
                .AppendLine("autosave_interval 1");
        }

        if (extraConfig is not null)
        {
            conf.AppendLine(extraConfig);
        }

        _configFile = Path.Combine(_directory, "mosquitto.conf");
        File.WriteAllText(_configFile, conf.ToString());
    }

    public int Port { get; }

    public string Directory => _directory;

    public string Output => _history + string.Join('\n', _process?.Lines ?? []);

    public static async Task<MosquittoBroker> StartAsync(bool persistent = false, string? extraConfig = null)
    {
        var broker = new MosquittoBroker(persistent, extraConfig);
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
            _history.AppendLine(string.Join('\n', _process.Lines));
            await _process.DisposeAsync();
        }

        var executable = File.Exists("/usr/sbin/mosquitto") ? "/usr/sbin/mosquitto" : "mosquitto";
        _process = ExternalProcess.Start(executable, ["-c", _configFile]);
        await TestPorts.WaitUntilListeningAsync(_process, Port, Timeouts.Wait, "mosquitto", () => Output);
    }

    /// <summary>SIGTERM: mosquitto saves its database (persistent sessions and their queues) and exits.</summary>
    public async Task StopAsync()
    {
        await _process!.TerminateAsync(Timeouts.Wait);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        try
        {
            System.IO.Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
