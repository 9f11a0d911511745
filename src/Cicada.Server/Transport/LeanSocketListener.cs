using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Cicada.Server.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cicada.Server.Transport;

/// <summary>
/// A plain-TCP listener that hands each accepted socket to a <see cref="ConnectionHandler"/> as a
/// <see cref="LeanSocketConnection"/>, outside Kestrel: no per-connection Kestrel bookkeeping,
/// transport loops or pipes (bench/README.md, "Where an idle connection's bytes go"). Binds in
/// <see cref="StartAsync"/> like Kestrel (so a port in use fails the start with the same kind of
/// message), stops accepting first on shutdown, then waits for the open connections (the broker has
/// told its clients it is shutting down) and aborts what is left.
/// </summary>
internal sealed partial class LeanSocketListener(
    ListenAddress address,
    ConnectionHandler handler,
    ILogger<LeanSocketListener> logger) : IHostedService
{
    /// <summary>How long open connections get to close on shutdown before they are aborted.</summary>
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<long, LeanSocketConnection> _connections = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private TaskCompletionSource? _allClosed;
    private volatile bool _stopping;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (endPoint, dualMode, optional) in EndPoints(address))
        {
            var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (dualMode)
                {
                    socket.DualMode = true;
                }

                socket.Bind(endPoint);
                socket.Listen(512);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                if (optional && ex.SocketErrorCode is SocketError.AddressFamilyNotSupported or SocketError.AddressNotAvailable)
                {
                    continue; // no IPv6 on this machine: localhost is the IPv4 loopback alone, as with Kestrel
                }

                Stop();
                throw ex.SocketErrorCode == SocketError.AddressAlreadyInUse
                    ? new IOException($"Failed to bind to address mqtt://{Format(endPoint)}: address already in use.", ex)
                    : ex;
            }

            _listeners.Add(socket);
        }

        if (_listeners.Count == 0)
        {
            throw new IOException($"Failed to bind to address mqtt://{address}: no address of this machine.");
        }

        foreach (var socket in _listeners)
        {
            _acceptLoops.Add(AcceptLoopAsync(socket));
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Stop accepting first, so no client connects to a broker on its way out.
        Stop();
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);

        var allClosed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _allClosed, allClosed);
        if (_connections.IsEmpty)
        {
            allClosed.TrySetResult();
        }

        // Connected clients were told (MQTT 5 DISCONNECT 0x8B) when the application began stopping
        // and close within moments; a socket that never sent CONNECT has nobody to tell.
        try
        {
            await allClosed.Task.WaitAsync(CloseGrace, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            LogAborting(logger, _connections.Count);
            foreach (var connection in _connections.Values)
            {
                connection.Close();
            }

            // The handlers end once their reads fail; give them a moment to release their sessions.
            await allClosed.Task.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None)
                .ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }
    }

    private void Stop()
    {
        _stopping = true;
        foreach (var socket in _listeners)
        {
            socket.Dispose();
        }
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stopping)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (_stopping && ex is SocketException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                continue; // reset before we got to it
            }
            catch (SocketException ex)
            {
                // Out of file descriptors, say: keep the listener, but do not spin on the error.
                LogAcceptFailed(logger, ex.SocketErrorCode, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
                continue;
            }

            Start(socket);
        }
    }

    private void Start(Socket socket)
    {
        LeanSocketConnection connection;
        try
        {
            // Nagle would hold small packets (PUBACK, PINGRESP) back by up to 40 ms; Kestrel turns it off too.
            socket.NoDelay = true;
            connection = new LeanSocketConnection(socket);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            socket.Dispose(); // gone before it started
            return;
        }

        _connections[connection.Id] = connection;
        Task running;
        try
        {
            running = handler.OnConnectedAsync(connection);
        }
        catch (Exception ex)
        {
            running = Task.FromException(ex);
        }

        // A continuation rather than an async method awaiting the handler: no second state
        // machine per idle connection.
        running.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(() => Finished(connection, running));
    }

    private void Finished(LeanSocketConnection connection, Task running)
    {
        if (running.Exception is { } ex)
        {
            // The handler ends its own errors; what gets here is a pipe failing to complete on a socket already gone.
            LogHandlerFailed(logger, connection.ConnectionId, ex.GetBaseException().Message);
        }

        connection.Close();
        _connections.TryRemove(connection.Id, out _);
        if (_connections.IsEmpty && Volatile.Read(ref _allClosed) is { } allClosed)
        {
            allClosed.TrySetResult();
        }
    }

    /// <summary>
    /// The sockets for a listener setting, as Kestrel binds them: <c>*</c> is IPv6-any in dual mode
    /// (IPv4-any where there is no IPv6), <c>localhost</c> both loopbacks (either may be missing).
    /// </summary>
    private static IEnumerable<(IPEndPoint EndPoint, bool DualMode, bool Optional)> EndPoints(ListenAddress address)
    {
        switch (address.Kind)
        {
            case ListenHostKind.Any when Socket.OSSupportsIPv6:
                yield return (new IPEndPoint(IPAddress.IPv6Any, address.Port), true, false);
                break;
            case ListenHostKind.Any:
                yield return (new IPEndPoint(IPAddress.Any, address.Port), false, false);
                break;
            case ListenHostKind.Localhost:
                yield return (new IPEndPoint(IPAddress.Loopback, address.Port), false, true);
                if (Socket.OSSupportsIPv6)
                {
                    yield return (new IPEndPoint(IPAddress.IPv6Loopback, address.Port), false, true);
                }

                break;
            case ListenHostKind.Address:
                yield return (new IPEndPoint(address.Address!, address.Port), false, false);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(address), address, "listener is off");
        }
    }

    private static string Format(IPEndPoint endPoint) => endPoint.AddressFamily == AddressFamily.InterNetworkV6
        ? $"[{endPoint.Address}]:{endPoint.Port}"
        : endPoint.ToString();

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "MQTT listener: accept failed ({Error}): {Reason}")]
    private static partial void LogAcceptFailed(ILogger logger, SocketError error, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "MQTT connection {ConnectionId} ended with {Reason}")]
    private static partial void LogHandlerFailed(ILogger logger, string connectionId, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "MQTT listener: aborting {Count} connections still open at shutdown")]
    private static partial void LogAborting(ILogger logger, int count);
}
