using System.Net;
using System.Net.Sockets;

namespace Cicada.Fault.Tests.Infrastructure;

/// <summary>
/// A loopback TCP proxy between clients and the broker that can misbehave on command: delay every
/// chunk, cut every connection abruptly (RST, as a dead NAT or a pulled cable after a timeout looks),
/// or go half-open (keep the sockets open but forward nothing, as a vanished peer looks until a
/// keep-alive notices). Clients connect to <see cref="Port"/>.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly int _target;
    private readonly List<(TcpClient Client, TcpClient Server)> _pairs = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private volatile bool _blackhole;

    public FaultProxy(int targetPort)
    {
        _target = targetPort;
        _listener = new TcpListener(IPAddress.Loopback, TestPorts.FreeTcpPort());
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public int Port { get; }

    /// <summary>Added before each forwarded chunk, both directions.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Half-open: from now on bytes are swallowed in both directions; nothing is closed.</summary>
    public void GoHalfOpen() => _blackhole = true;

    /// <summary>Resets every current connection on both sides (no FIN, no DISCONNECT), and heals half-open.</summary>
    public void CutAll()
    {
        lock (_pairs)
        {
            foreach (var (client, server) in _pairs)
            {
                Reset(client);
                Reset(server);
            }

            _pairs.Clear();
        }

        _blackhole = false;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        CutAll();
        await _acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            var server = new TcpClient { NoDelay = true };
            client.NoDelay = true;
            await server.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
            lock (_pairs)
            {
                _pairs.Add((client, server));
            }

            _ = PumpAsync(client, server);
            _ = PumpAsync(server, client);
        }
    }

    private async Task PumpAsync(TcpClient from, TcpClient to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            var input = from.GetStream();
            var output = to.GetStream();
            while (true)
            {
                var n = await input.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                {
                    to.Client.Shutdown(SocketShutdown.Send);
                    return;
                }

                if (_blackhole)
                {
                    continue;
                }

                if (Delay > TimeSpan.Zero)
                {
                    await Task.Delay(Delay, _stop.Token);
                }

                await output.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            Reset(from);
            Reset(to);
        }
    }

    /// <summary>
    /// Aborts one side with RST. Both pumps of a pair and <see cref="CutAll"/> may race to reset the
    /// same client; a closed <see cref="TcpClient"/> has a null <see cref="TcpClient.Client"/>, so
    /// every reset after the first is a no-op.
    /// </summary>
    private static void Reset(TcpClient tcp)
    {
        try
        {
            if (tcp.Client is not { } socket)
            {
                return;
            }

            socket.LingerState = new LingerOption(true, 0);
            tcp.Close();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or NullReferenceException)
        {
            // Raced with another reset of the same client: already closed.
        }
    }
}
