using System.Net;
using System.Net.Sockets;

namespace Cicada.Bridge.Tests.Infrastructure;

public static class TestPorts
{
    private static readonly HashSet<int> Used = [];

    /// <summary>A loopback port nobody listens on, never handed out twice in this run.</summary>
    public static int FreeTcpPort()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            lock (Used)
            {
                if (Used.Add(port))
                {
                    return port;
                }
            }
        }
    }

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

    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
}
