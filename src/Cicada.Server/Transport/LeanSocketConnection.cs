using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace Cicada.Server.Transport;

/// <summary>
/// One accepted TCP connection of <see cref="LeanSocketListener"/>: a <see cref="ConnectionContext"/>
/// whose transport reads and writes the socket directly (<see cref="SocketPipeReader"/>,
/// <see cref="SocketPipeWriter"/>), without Kestrel's two <see cref="Pipe"/>s and send/receive
/// loops. Idle, it holds no buffer: the reader waits with a zero-byte receive and rents one only once
/// data is there, and the writer returns its buffer on every flush. Everything a connection needs only sometimes (features, items, the closed token, its
/// id) is created on first use, because memory per idle connection is a figure users compare brokers on.
/// </summary>
internal sealed class LeanSocketConnection : ConnectionContext, IDuplexPipe
{
    private const int Open = 0, Closed = 1;

    private static long _lastId;

    private readonly Socket _socket;
    private readonly SocketPipeReader _input;
    private readonly PipeWriter _output;
    private readonly long _id;
    private IDuplexPipe _transport;
    private IFeatureCollection? _features;
    private IDictionary<object, object?>? _items;
    private CancellationTokenSource? _closedSource;
    private string? _connectionId;
    private EndPoint? _localEndPoint;
    private int _state;

    public LeanSocketConnection(Socket socket)
    {
        _socket = socket;
        _id = Interlocked.Increment(ref _lastId);
        // Non-blocking: the pipes send and receive what they can at once and wait asynchronously
        // only when the socket has nothing (reads) or no room (writes).
        socket.Blocking = false;
        _input = new SocketPipeReader(socket);
        _output = new SocketPipeWriter(socket);
        _transport = this;
        RemoteEndPoint = socket.RemoteEndPoint;
    }

    /// <summary>The key of this connection in its listener's table.</summary>
    public long Id => _id;

    public PipeReader Input => _input;

    public PipeWriter Output => _output;

    public override IDuplexPipe Transport
    {
        get => _transport;
        set => _transport = value;
    }

    public override string ConnectionId
    {
        get => _connectionId ??= $"mqtt-{_id}";
        set => _connectionId = value;
    }

    public override IFeatureCollection Features =>
        _features ?? Interlocked.CompareExchange(ref _features, new FeatureCollection(), null) ?? _features;

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new Dictionary<object, object?>();
        set => _items = value;
    }

    public override EndPoint? LocalEndPoint
    {
        get => _localEndPoint ??= TryGetLocalEndPoint();
        set => _localEndPoint = value;
    }

    /// <summary>Cancelled once the connection is closed (aborted, or its handler has returned).</summary>
    public override CancellationToken ConnectionClosed
    {
        get
        {
            if (Volatile.Read(ref _state) == Closed)
            {
                return new CancellationToken(canceled: true);
            }

            var source = _closedSource ?? Interlocked.CompareExchange(ref _closedSource, new CancellationTokenSource(), null) ?? _closedSource;
            // Closed between the check and the creation: the close may have missed the new source.
            if (Volatile.Read(ref _state) == Closed)
            {
                source.Cancel();
            }

            return source.Token;
        }
        set => throw new NotSupportedException("the token follows the socket");
    }

    /// <summary>
    /// Closes the socket at once: a pending read ends with an error, unsent output is dropped,
    /// the peer sees a reset if it had sent data not read yet (as with Kestrel's Abort).
    /// </summary>
    public override void Abort(ConnectionAbortedException abortReason) => Close();

    public override ValueTask DisposeAsync()
    {
        Close();
        return ValueTask.CompletedTask;
    }

    /// <summary>Closes the socket once; later calls do nothing.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _state, Closed) == Closed)
        {
            return;
        }

        // Before the shutdown wakes a pending read: that read must end as aborted, not as a
        // clean end of stream (which is what a receive after the shutdown would report).
        _input.MarkAborted();
        try
        {
            // Shutdown first so the peer gets the FIN of what was flushed, then release the handle.
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already reset by the peer.
        }

        _socket.Dispose();
        if (_closedSource is { } source)
        {
            try
            {
                source.Cancel();
            }
            catch (AggregateException)
            {
                // A callback on the token failed; the connection is gone either way.
            }
        }
    }

    private EndPoint? TryGetLocalEndPoint()
    {
        try
        {
            return _socket.LocalEndPoint;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }
}
