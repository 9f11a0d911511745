using System.Net;
using System.Net.Sockets;

namespace Cicada.Testing;

public static class TestPorts
{
    private static readonly HashSet<int> Used = [];

    public static int FreeTcpPort() => FreePort(SocketType.Stream);

    public static int FreeUdpPort() => FreePort(SocketType.Dgram);

    /// <summary>
    /// A loopback port that is free now and was never handed out before in this test run. Ports come
    /// from 10000–32767, below Linux's ephemeral range (32768–60999): an ephemeral port released by a
    /// probe can be taken at once by any outgoing client connection, or handed to the next fixture
    /// starting in parallel — and a broker that then fails to bind would have its readiness probe
    /// answered by somebody else's listener.
    /// </summary>
    public static int FreePort(SocketType type)
    {
        lock (Used)
        {
            for (var attempt = 0; attempt < 1000; attempt++)
            {
                var port = Random.Shared.Next(10000, 32768);
                if (!Used.Add(port))
                {
                    continue;
                }

                try
                {
                    using var probe = new Socket(AddressFamily.InterNetwork, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
                    probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
                    return port;
                }
                catch (SocketException)
                {
                    // In use by someone else; try another.
                }
            }
        }

        throw new InvalidOperationException($"No free {type} port found in 10000–32767.");
    }

    /// <summary>
    /// Polls until <paramref name="process"/> accepts TCP connections on <paramref name="port"/>;
    /// throws with <paramref name="output"/> if it exits first or <paramref name="timeout"/> passes.
    /// </summary>
    public static async Task WaitUntilListeningAsync(ExternalProcess process, int port, TimeSpan timeout, string name, Func<string> output)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await AcceptsAsync(port))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"{name} did not start on port {port}.\n{output()}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Whether something accepts TCP connections on the loopback <paramref name="port"/> (within a second).</summary>
    public static async Task<bool> AcceptsAsync(int port)
    {
        using var probe = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await probe.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}
