using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

// The suite starts Linux processes (the server, python3, node, mosquitto clients).
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]

namespace Cicada.Amqp.Tests;

/// <summary>Where things are: the repository (found by walking up to Cicada.slnx) and the built server.</summary>
internal static class Paths
{
    public static string Repo { get; } = FindRepo();

    public static string Configuration { get; } =
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    public static string ServerDll => Path.Combine(Repo, "src", "Cicada.Server", "bin", Configuration, "net10.0", "Cicada.Server.dll");

    public static string Clients => Path.Combine(Repo, "tests", "Cicada.Amqp.Tests", "clients");

    private static string FindRepo()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Cicada.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Cicada.slnx not found above " + AppContext.BaseDirectory);
    }
}

internal static class Net
{
    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task<bool> CanConnectAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>The real <c>cicada</c> process with AMQP and MQTT on free loopback ports.</summary>
public sealed class CicadaProcess : IDisposable
{
    private readonly StringBuilder _output = new();
    private Process? _process;

    public CicadaProcess(string storage = "memory", string? dataDirectory = null)
    {
        Storage = storage;
        DataDirectory = dataDirectory ?? Path.Combine(Path.GetTempPath(), "cicada-amqp-" + Guid.NewGuid().ToString("N"));
        OwnsDataDirectory = dataDirectory is null;
        Directory.CreateDirectory(DataDirectory);
        AmqpPort = Net.FreeTcpPort();
        MqttPort = Net.FreeTcpPort();
    }

    public string Storage { get; }
    public string DataDirectory { get; }
    private bool OwnsDataDirectory { get; }
    public int AmqpPort { get; }
    public int MqttPort { get; }
    public string AmqpUri => $"amqp://guest:guest@127.0.0.1:{AmqpPort}/";

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

    public async Task StartAsync()
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            Paths.ServerDll, "--amqp", $"127.0.0.1:{AmqpPort}", "--mqtt", $"127.0.0.1:{MqttPort}",
            "--http", "off", "--coap", "off", "--storage", Storage, "--data", DataDirectory,
        })
        {
            psi.ArgumentList.Add(arg);
        }

        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("CICADA_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            psi.Environment.Remove(key);
        }

        _process = new Process { StartInfo = psi };
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && !_process.HasExited)
        {
            if (await Net.CanConnectAsync(AmqpPort) && await Net.CanConnectAsync(MqttPort))
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException($"the server did not start\n{Output}");
    }

    /// <summary>SIGKILL: nothing is flushed or closed (durability after a crash).</summary>
    public void Kill()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    /// <summary>SIGTERM (a graceful stop) and the exit code, within <paramref name="timeoutSeconds"/>.</summary>
    public async Task<int> TerminateAsync(int timeoutSeconds = 20)
    {
        var process = _process ?? throw new InvalidOperationException("the server is not running");
        var (code, output, error) = await Tool.RunAsync("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.True(code == 0, $"kill -TERM failed: {output}{error}");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        await process.WaitForExitAsync(timeout.Token);
        return process.ExitCode;
    }

    public void Dispose()
    {
        Kill();
        _process?.Dispose();
        if (OwnsDataDirectory)
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
}

/// <summary>One server per test class (xUnit class fixture): starting it costs a second.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public CicadaProcess Server { get; } = new();

    public Task InitializeAsync() => Server.StartAsync();

    public Task DisposeAsync()
    {
        Server.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>Runs a client program to completion with a timeout; returns exit code and output.</summary>
internal static class Tool
{
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(string file, IEnumerable<string> args,
        string? workingDirectory = null, int timeoutSeconds = 60)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Paths.Clients,
        };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, await output, await error + $"\n(timed out after {timeoutSeconds}s)");
        }

        return (process.ExitCode, await output, await error);
    }

    private static readonly SemaphoreSlim NpmLock = new(1, 1);
    private static bool _amqplibReady;

    /// <summary>Installs amqplib into clients/node_modules once (idempotent script).</summary>
    public static async Task EnsureAmqplibAsync()
    {
        await NpmLock.WaitAsync();
        try
        {
            if (_amqplibReady)
            {
                return;
            }

            var (code, output, error) = await RunAsync("bash", [Path.Combine(Paths.Clients, "install-amqplib.sh")], timeoutSeconds: 300);
            Assert.True(code == 0, $"installing amqplib failed: {output}{error}");
            _amqplibReady = true;
        }
        finally
        {
            NpmLock.Release();
        }
    }
}
