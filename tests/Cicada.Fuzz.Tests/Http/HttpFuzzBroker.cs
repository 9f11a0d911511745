using System.Net;
using System.Net.Sockets;

namespace Cicada.Fuzz.Tests.Http;

/// <summary>
/// The real <c>cicada</c> process with only its HTTP listener on (memory storage, a free loopback
/// port, an ACL file so denials are exercised too): the HTTP fuzz drives the whole pipeline —
/// Kestrel, middleware, routing, endpoints — over a real socket, and reads the process output to
/// check that nothing was logged as a failure.
/// </summary>
public sealed class HttpFuzzBroker : IAsyncDisposable
{
    /// <summary>Anonymous may do anything but touch <c>private/#</c>; the explain endpoint has rules to name.</summary>
    public const string Acl = "topic readwrite #\ntopic deny private/#\npattern readwrite clients/%c/#\nuser alice\ntopic read alice/#\n";

    /// <summary>Small, so the fuzz reaches 413 without sending megabytes.</summary>
    public const int MaxBodySize = 16 * 1024;

    private readonly ExternalProcess _process;
    private readonly string _directory;

    private HttpFuzzBroker(ExternalProcess process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<string> OutputLines => _process.StandardOutputLines;

    public string Output => _process.AllOutput;

    public static async Task<HttpFuzzBroker> StartAsync()
    {
        var directory = Directory.CreateTempSubdirectory("cicada-httpfuzz-").FullName;
        var acl = Path.Combine(directory, "acl");
        await File.WriteAllTextAsync(acl, Acl);
        var port = TestPorts.FreeTcpPort();
        var process = ExternalProcess.Start("dotnet",
        [
            Repository.ServerDll, "--mqtt", "off", "--mqtts", "off", "--amqp", "off", "--amqps", "off", "--coap", "off", "--https", "off",
            "--http", $"127.0.0.1:{port}", "--storage", "memory", "--data", Path.Combine(directory, "data"),
        ], new Dictionary<string, string>
        {
            ["CICADA_Auth__AclFile"] = acl,
            ["CICADA_Http__MaxBodySize"] = MaxBodySize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        var broker = new HttpFuzzBroker(process, directory, port);
        try
        {
            var deadline = DateTime.UtcNow + Timeouts.BrokerStart;
            while (true)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"cicada exited during start-up.\n{process.AllOutput}");
                }

                using var client = new TcpClient();
                try
                {
                    await client.ConnectAsync(IPAddress.Loopback, port);
                    return broker;
                }
                catch (SocketException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(100);
                }
            }
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
