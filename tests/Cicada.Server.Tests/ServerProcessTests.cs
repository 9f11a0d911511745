using System.Diagnostics;
using System.Net;
using System.Text;

namespace Cicada.Server.Tests;

/// <summary>The real <c>cicada</c> process, as scripts run it: <c>dotnet Cicada.Server.dll ARGS</c>.</summary>
public sealed class ServerProcessTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    // The test output holds the server (dll, runtimeconfig, deps, appsettings.json) as a referenced project.
    private static string ServerDll => Path.Combine(AppContext.BaseDirectory, "Cicada.Server.dll");

    [Fact]
    public async Task Server_ListensOnTheMqttPort_AndExitsCleanlyOnSigterm()
    {
        var port = Net.FreeTcpPort();
        using var server = new ServerProcess(ServerDll,
            ["--mqtt", $"127.0.0.1:{port}", "--http", "off", "--coap", "off", "--amqp", "off", "--storage", "memory", "--data", _dir.Path]);

        Assert.True(await server.WaitUntilAsync(() => Net.CanConnectAsync(IPAddress.Loopback, port)), $"port {port} never accepted a connection\n{server.Output}");
        // The console logger writes from its own queue: the line may follow the bind by a moment.
        Assert.True(await server.WaitUntilAsync(() => Task.FromResult(server.Output.Contains($"mqtt 127.0.0.1:{port}", StringComparison.Ordinal))),
            $"no startup line naming the listener\n{server.Output}");

        server.Signal("TERM");

        Assert.True(server.Process.WaitForExit(15_000), $"no exit within 15 s of SIGTERM\n{server.Output}");
        Assert.Equal(0, server.Process.ExitCode);
        server.Process.WaitForExit(); // drain the output readers
        Assert.Contains("Cicada stopped", server.Output, StringComparison.Ordinal);
        Assert.False(await Net.CanConnectAsync(IPAddress.Loopback, port));
    }

    [Fact]
    public async Task Server_TakesItsListenerFromCicadaEnvironmentVariables()
    {
        var port = Net.FreeTcpPort();
        using var server = new ServerProcess(ServerDll, ["--storage", "memory", "--http", "off", "--coap", "off", "--amqp", "off"],
            new() { ["CICADA_MQTT__LISTEN"] = $"127.0.0.1:{port}" });

        Assert.True(await server.WaitUntilAsync(() => Net.CanConnectAsync(IPAddress.Loopback, port)), $"port {port} never accepted a connection\n{server.Output}");
        server.Signal("INT");
        Assert.True(server.Process.WaitForExit(15_000), server.Output);
        Assert.Equal(0, server.Process.ExitCode);
    }

    [Fact]
    public void Server_WithABadOption_ExitsWith2_WithoutStarting()
    {
        using var server = new ServerProcess(ServerDll, ["--mqtt", "127.0.0.1:99999", "--storage", "memory"]);

        Assert.True(server.Process.WaitForExit(30_000));
        server.Process.WaitForExit();
        Assert.Equal(2, server.Process.ExitCode);
        Assert.Contains("--mqtt", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("started", server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Launcher_BesideTheDll_RunsTheServer()
    {
        var launcher = Path.Combine(AppContext.BaseDirectory, "cicada");
        Assert.True(File.Exists(launcher), "the build copies the cicada launcher beside the dll");
        Assert.True(File.GetUnixFileMode(launcher).HasFlag(UnixFileMode.UserExecute), "the launcher is executable");

        var (exitCode, output, _) = Tools.Run(launcher, "--version");

        Assert.Equal(0, exitCode);
        Assert.StartsWith(Hosting.CicadaServer.Version, output.Trim(), StringComparison.Ordinal);
    }

    private sealed class ServerProcess : IDisposable
    {
        private readonly StringBuilder _output = new();

        public ServerProcess(string dll, string[] args, Dictionary<string, string>? environment = null)
        {
            var psi = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            psi.ArgumentList.Add(dll);
            foreach (var arg in args)
                psi.ArgumentList.Add(arg);
            // Inherited CICADA_* variables would change what is under test.
            foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("CICADA_", StringComparison.OrdinalIgnoreCase)).ToList())
                psi.Environment.Remove(key);
            foreach (var (key, value) in environment ?? [])
                psi.Environment[key] = value;

            Process = new Process { StartInfo = psi };
            Process.OutputDataReceived += (_, e) => Append(e.Data);
            Process.ErrorDataReceived += (_, e) => Append(e.Data);
            Process.Start();
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public string Output
        {
            get
            {
                lock (_output)
                    return _output.ToString();
            }
        }

        public async Task<bool> WaitUntilAsync(Func<Task<bool>> condition)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (DateTime.UtcNow < deadline && !Process.HasExited)
            {
                if (await condition())
                    return true;
                await Task.Delay(100);
            }
            return false;
        }

        /// <summary>
        /// Sends a POSIX signal (Process.Kill would send SIGKILL, which tests nothing). Uses bash's
        /// builtin kill: /usr/bin/kill comes from procps, which minimal Debian images lack.
        /// </summary>
        public void Signal(string name)
        {
            var (exitCode, output, error) = Tools.Run("bash", "-c", $"kill -{name} {Process.Id}");
            Assert.True(exitCode == 0, $"kill -{name} failed: {output}{error}");
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
                _output.AppendLine(line);
        }
    }
}
