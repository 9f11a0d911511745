using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Cicada.Security.Tests.Infrastructure;

/// <summary>How a test wants the broker's security set up.</summary>
public sealed record SecureBrokerSettings
{
    /// <summary>Make dev certificates with <c>cicada cert dev</c> and open the <c>--mqtts</c> listener.</summary>
    public bool Tls { get; init; }

    /// <summary><c>Tls:ClientCertificateMode</c>: none, allow or require.</summary>
    public string ClientCertificateMode { get; init; } = "none";

    public bool CertificateCnAsUsername { get; init; }

    /// <summary>CN of the client certificate <c>cicada cert dev</c> makes.</summary>
    public string ClientCn { get; init; } = "cicada-client";

    /// <summary>ACL file text (<c>Auth:AclFile</c>); null = no ACL.</summary>
    public string? Acl { get; init; }

    /// <summary>Users, written with <c>mosquitto_passwd</c> (Cicada reads mosquitto's <c>$7$</c> hashes).</summary>
    public IReadOnlyDictionary<string, string>? Users { get; init; }

    /// <summary>Also open the HTTP, CoAP and AMQP listeners, each on a free loopback port.</summary>
    public bool AllEdges { get; init; }

    /// <summary>Also open <c>--amqps</c> and <c>--https</c> (needs <see cref="Tls"/>) on free loopback ports.</summary>
    public bool TlsEdges { get; init; }

    /// <summary>Extra configuration keys.</summary>
    public IReadOnlyDictionary<string, string>? Configuration { get; init; }

    /// <summary>Also start the HTTP edge (on <see cref="SecureBroker.HttpPort"/>).</summary>
    public bool Http { get; init; }
}

/// <summary>
/// The real <c>cicada</c> process with a plain MQTT listener and, when asked, an MQTT-over-TLS one,
/// both on free loopback ports, in a temporary folder that also holds its certificates, users and
/// ACL files.
/// </summary>
public sealed class SecureBroker : IAsyncDisposable
{
    private readonly ExternalProcess _process;

    private SecureBroker(string directory, int port, int tlsPort, ExternalProcess process)
    {
        Directory = directory;
        Port = port;
        TlsPort = tlsPort;
        _process = process;
    }

    public string Directory { get; }

    public int Port { get; }

    public int TlsPort { get; }

    /// <summary>The HTTP, CoAP (UDP) and AMQP ports when <see cref="SecureBrokerSettings.AllEdges"/> (HTTP also with <see cref="SecureBrokerSettings.Http"/>); else 0.</summary>
    public int HttpPort { get; private init; }

    public int CoapPort { get; private init; }

    public int AmqpPort { get; private init; }

    /// <summary>AMQPS port (<see cref="SecureBrokerSettings.TlsEdges"/>), else 0.</summary>
    public int AmqpsPort { get; private init; }

    /// <summary>HTTPS/WSS port (<see cref="SecureBrokerSettings.TlsEdges"/>), else 0.</summary>
    public int HttpsPort { get; private init; }

    /// <summary>The broker's process id (for signals).</summary>
    public int ProcessId => _process.Id;

    public string CertificateDirectory => Path.Combine(Directory, "certs");

    public string CaFile => Path.Combine(CertificateDirectory, "ca.crt");

    public string ClientCertificate => Path.Combine(CertificateDirectory, "client.crt");

    public string ClientKey => Path.Combine(CertificateDirectory, "client.key");

    public string AclFile => Path.Combine(Directory, "acl");

    public string Output => _process.AllOutput;

    /// <summary>Runs the <c>cicada</c> command line (a subcommand) to completion.</summary>
    public static Task<ProcessResult> RunCicadaAsync(params string[] arguments) =>
        ExternalProcess.RunAsync("dotnet", [Repository.ServerDll, .. arguments], Timeouts.ExternalClient);

    public static async Task<SecureBroker> StartAsync(SecureBrokerSettings settings)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("cicada-sec-").FullName;
        var config = new Dictionary<string, object?>();
        var auth = new Dictionary<string, object?>();
        var tls = new Dictionary<string, object?>();
        if (settings.Tls)
        {
            var certs = Path.Combine(directory, "certs");
            var made = await RunCicadaAsync("cert", "dev", "--out", certs, "--client-cn", settings.ClientCn);
            Assert.True(made.ExitCode == 0, $"cicada cert dev failed: {made}");
            tls["CertificateFile"] = Path.Combine(certs, "server.crt");
            tls["KeyFile"] = Path.Combine(certs, "server.key");
            tls["ClientCertificateMode"] = settings.ClientCertificateMode;
            tls["CaFile"] = Path.Combine(certs, "ca.crt");
            tls["UseCertificateCnAsUsername"] = settings.CertificateCnAsUsername;
            config["Tls"] = tls;
        }

        if (settings.Users is { } users)
        {
            var usersFile = Path.Combine(directory, "users");
            foreach (var (user, password) in users)
            {
                var created = await ExternalProcess.RunAsync("mosquitto_passwd", File.Exists(usersFile)
                    ? ["-b", usersFile, user, password]
                    : ["-c", "-b", usersFile, user, password]);
                Assert.True(created.ExitCode == 0, $"mosquitto_passwd failed: {created}");
            }

            auth["UsersFile"] = usersFile;
        }

        if (settings.Acl is { } acl)
        {
            File.WriteAllText(Path.Combine(directory, "acl"), acl);
            auth["AclFile"] = Path.Combine(directory, "acl");
        }

        config["Auth"] = auth;
        var configFile = Path.Combine(directory, "cicada.json");
        File.WriteAllText(configFile, JsonSerializer.Serialize(config));

        var port = TestPorts.FreeTcpPort();
        var tlsPort = settings.Tls ? TestPorts.FreeTcpPort() : 0;
        var (httpPort, coapPort, amqpPort) = settings.AllEdges ? (TestPorts.FreeTcpPort(), TestPorts.FreeUdpPort(), TestPorts.FreeTcpPort()) : (settings.Http ? TestPorts.FreeTcpPort() : 0, 0, 0);
        string Listen(int edgePort) => edgePort == 0 ? "off" : $"127.0.0.1:{edgePort}";
        List<string> arguments =
        [
            Repository.ServerDll, "--mqtt", $"127.0.0.1:{port}", "--mqtts", settings.Tls ? $"127.0.0.1:{tlsPort}" : "off",
            "--http", Listen(httpPort), "--coap", Listen(coapPort), "--amqp", Listen(amqpPort),
            "--storage", "memory", "--data", Path.Combine(directory, "data"), "--config", configFile,
        ];
        var (amqpsPort, httpsPort) = settings.TlsEdges ? (TestPorts.FreeTcpPort(), TestPorts.FreeTcpPort()) : (0, 0);
        // With a certificate, AMQPS and HTTPS would otherwise open on their fixed default ports.
        arguments.AddRange(settings.TlsEdges
            ? ["--amqps", $"127.0.0.1:{amqpsPort}", "--https", $"127.0.0.1:{httpsPort}"]
            : ["--amqps", "off", "--https", "off"]);

        var environment = new Dictionary<string, string>();
        foreach (var (key, value) in settings.Configuration ?? new Dictionary<string, string>())
        {
            environment["CICADA_" + key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = ExternalProcess.Start("dotnet", arguments, environment);
        var broker = new SecureBroker(directory, port, tlsPort, process)
        {
            HttpPort = httpPort,
            CoapPort = coapPort,
            AmqpPort = amqpPort,
            AmqpsPort = amqpsPort,
            HttpsPort = httpsPort,
        };
        try
        {
            await broker.WaitUntilListeningAsync();
            return broker;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    private async Task WaitUntilListeningAsync()
    {
        var deadline = DateTime.UtcNow + Timeouts.BrokerStart;
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"cicada exited during start-up.\n{Output}");
            }

            if (await AcceptsAsync(Port) && (TlsPort == 0 || await AcceptsAsync(TlsPort))
                && (HttpPort == 0 || await AcceptsAsync(HttpPort)) && (AmqpPort == 0 || await AcceptsAsync(AmqpPort))
                && (AmqpsPort == 0 || await AcceptsAsync(AmqpsPort)) && (HttpsPort == 0 || await AcceptsAsync(HttpsPort)))
            {
                if (CoapPort != 0)
                {
                    await WaitForLogAsync("CoAP listening on udp"); // UDP has no accept to probe
                }

                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"cicada did not listen within {Timeouts.BrokerStart}.\n{Output}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Waits for a line of the broker's log (a reload, a denial).</summary>
    public Task<string> WaitForLogAsync(string fragment) =>
        _process.WaitForLineAsync(l => l.Contains(fragment, StringComparison.Ordinal), Timeouts.Packet, $"log line with '{fragment}'");

    private static async Task<bool> AcceptsAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
