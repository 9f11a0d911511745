using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Cicada.Server.Tests;

/// <summary>
/// The self-contained <c>cicada</c> that scripts/publish builds (Native AOT), started as an operator
/// would: it serves MQTT with the SQLite store, keeps retained state across a restart, and tells
/// systemd when it is ready and when it stops. scripts/test publishes it before the tests run; a
/// plain <c>dotnet test</c> without it skips these tests and says why.
/// </summary>
public sealed class PublishedBinaryTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string? Published()
    {
        var folder = Environment.GetEnvironmentVariable("CICADA_PUBLISHED_DIR")
            ?? Path.Combine(ConfigurationValidationTests.RepositoryRoot(), "artifacts", "linux-x64");
        var binary = Path.Combine(folder, "cicada");
        return File.Exists(binary) ? binary : null;
    }

    private static string RequirePublished()
    {
        var binary = Published();
        Skip.If(binary is null, "no published cicada in artifacts/linux-x64: run scripts/publish first (scripts/test does)");
        return binary!;
    }

    private static (int Code, string Output) Mosquitto(string tool, int port, params string[] args)
    {
        var (code, output, error) = Tools.Run(tool, ["-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), .. args]);
        return (code, output + error);
    }

    [SkippableFact]
    public async Task PublishedBinary_ServesMqttWithSqlite_KeepsRetainedAcrossARestart_AndExits0OnSigterm()
    {
        var binary = RequirePublished();
        var (versionCode, version, _) = Tools.Run(binary, "--version");
        Assert.Equal(0, versionCode);
        // Version and commit, as `cicada --version` promises.
        Assert.Matches(@"^\d+\.\d+\.\d+\+[0-9a-f]{7,40}$", version.Trim());

        var port = Net.FreeTcpPort();
        var args = new[] { "--mqtt", $"127.0.0.1:{port}", "--http", "off", "--coap", "off", "--amqp", "off", "--data", _dir.Path };
        using (var first = BrokerProcess.StartExecutable(binary, args))
        {
            Assert.True(await first.WaitForListenerAsync(port), first.Output);
            var (pubCode, pubOutput) = Mosquitto("mosquitto_pub", port, "-t", "published/state", "-m", "on", "-r", "-q", "1");
            Assert.True(pubCode == 0, pubOutput);
            Assert.Equal(0, first.Stop());
            Assert.Contains("storage sqlite", first.Output, StringComparison.Ordinal);
        }

        using var second = BrokerProcess.StartExecutable(binary, args);
        Assert.True(await second.WaitForListenerAsync(port), second.Output);
        var (subCode, received) = Mosquitto("mosquitto_sub", port, "-t", "published/state", "-C", "1", "-W", "10", "-v");
        Assert.True(subCode == 0, received);
        Assert.Equal("published/state on", received.Trim());
        Assert.Equal(0, second.Stop());
    }

    [SkippableFact]
    public async Task PublishedBinary_UnderSystemd_SendsReadyOnceListening_AndStoppingOnSigterm()
    {
        var binary = RequirePublished();

        // systemd's notify protocol: a datagram socket named by NOTIFY_SOCKET. The host only
        // speaks it when its parent process is systemd, so the parent here is a shell started
        // through a link named "systemd" (the kernel takes the process name from the link).
        var socketPath = _dir.File("notify");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        var fakeSystemd = _dir.File("systemd");
        File.CreateSymbolicLink(fakeSystemd, "/bin/bash");

        var port = Net.FreeTcpPort();
        var pidFile = _dir.File("pid");
        var command = $"'{binary}' --mqtt 127.0.0.1:{port} --http off --coap off --amqp off --storage memory --data '{_dir.Path}' & echo $! > '{pidFile}'; wait $!";
        using var parent = BrokerProcess.StartExecutable(fakeSystemd, ["-c", command],
            new Dictionary<string, string> { ["NOTIFY_SOCKET"] = socketPath });

        var ready = await ReceiveAsync(socket);
        Assert.Equal("READY=1", ready);
        // READY=1 means every listener is bound.
        Assert.True(await Net.CanConnectAsync(System.Net.IPAddress.Loopback, port), parent.Output);
        // Journal format: a <priority> prefix per line instead of a timestamp.
        Assert.True(await parent.WaitForOutputAsync("<6>Cicada.Server[2]"), parent.Output);

        var pid = File.ReadAllText(pidFile).Trim();
        Assert.Equal(0, Tools.Run("bash", "-c", $"kill -TERM {pid}").ExitCode);
        Assert.Equal("STOPPING=1", await ReceiveAsync(socket));
        Assert.True(parent.Process.WaitForExit(15_000), parent.Output);
        Assert.Equal(0, parent.Process.ExitCode);
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var length = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return Encoding.UTF8.GetString(buffer, 0, length).Trim();
    }
}
