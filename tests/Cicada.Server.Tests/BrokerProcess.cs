using System.Diagnostics;
using System.Net;
using System.Text;

namespace Cicada.Server.Tests;

/// <summary>
/// A real broker process: <c>dotnet Cicada.Server.dll ARGS</c> from the test output, or a given
/// executable (the published single-file <c>cicada</c>). Output is captured line by line.
/// </summary>
internal sealed class BrokerProcess : IDisposable
{
    private readonly StringBuilder _output = new();
    private readonly List<string> _lines = [];

    private BrokerProcess(string fileName, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
            psi.ArgumentList.Add(arg);
        // Inherited CICADA_* variables would change what is under test.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("CICADA_", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
            psi.Environment[key] = value;

        Process = new Process { StartInfo = psi };
        Process.OutputDataReceived += (_, e) => Append(e.Data);
        Process.ErrorDataReceived += (_, e) => Append(e.Data);
        Process.Start();
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public static string ServerDll => Path.Combine(AppContext.BaseDirectory, "Cicada.Server.dll");

    /// <summary>The server built beside the tests, run with <c>dotnet</c>.</summary>
    public static BrokerProcess StartDll(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null) =>
        new("dotnet", [ServerDll, .. args], environment);

    /// <summary>A self-contained executable.</summary>
    public static BrokerProcess StartExecutable(string path, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null) =>
        new(path, args, environment);

    /// <summary>Arguments for an MQTT-only broker on 127.0.0.1:<paramref name="port"/> with memory storage.</summary>
    public static string[] MqttOnly(int port, string dataDirectory) =>
        ["--mqtt", $"127.0.0.1:{port}", "--http", "off", "--coap", "off", "--amqp", "off", "--storage", "memory", "--data", dataDirectory];

    public Process Process { get; }

    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_output)
                return [.. _lines];
        }
    }

    public async Task<bool> WaitUntilAsync(Func<Task<bool>> condition, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline && !Process.HasExited)
        {
            if (await condition())
                return true;
            await Task.Delay(100);
        }
        return false;
    }

    public Task<bool> WaitForListenerAsync(int port) => WaitUntilAsync(() => Net.CanConnectAsync(IPAddress.Loopback, port));

    public Task<bool> WaitForOutputAsync(string text) =>
        WaitUntilAsync(() => Task.FromResult(Output.Contains(text, StringComparison.Ordinal)));

    /// <summary>Sends a POSIX signal with bash's builtin kill (procps may be absent).</summary>
    public void Signal(string name)
    {
        var (exitCode, output, error) = Tools.Run("bash", "-c", $"kill -{name} {Process.Id}");
        Assert.True(exitCode == 0, $"kill -{name} failed: {output}{error}");
    }

    /// <summary>SIGTERM, then waits for the exit and the last output lines.</summary>
    public int Stop()
    {
        if (!Process.HasExited)
            Signal("TERM");
        Assert.True(Process.WaitForExit(15_000), $"no exit within 15 s of SIGTERM\n{Output}");
        Process.WaitForExit();
        return Process.ExitCode;
    }

    public void Dispose()
    {
        if (!Process.HasExited)
            Process.Kill(entireProcessTree: true);
        Process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (_output)
        {
            _output.AppendLine(line);
            _lines.Add(line);
        }
    }
}
