using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace Cicada.Http.WebSockets;

/// <summary>
/// A WebSocket presented as a Kestrel <see cref="ConnectionContext"/>, so the MQTT edge's own
/// connection handler runs over it unchanged. The transport's input receives the payload of binary
/// WebSocket messages as one byte stream and the output sends what the handler writes: MQTT does
/// not align its packets with WebSocket messages (a message may hold several packets or part of one,
/// MQTT-6.0.0-2), so none is assumed either way.
/// </summary>
internal sealed class WebSocketConnection : ConnectionContext
{
    private readonly WebSocket _socket;
    private readonly Pipe _inbound;
    private readonly Pipe _outbound;
    private readonly CancellationTokenSource _closed = new();
    private string? _abortReason;

    public WebSocketConnection(WebSocket socket, string connectionId, EndPoint? local, EndPoint? remote, long maxPacketSize)
    {
        _socket = socket;
        ConnectionId = connectionId;
        LocalEndPoint = local;
        RemoteEndPoint = remote;

        // The reader must be able to hold one whole packet before it can consume any of it; the
        // threshold is above the largest packet so a packet in flight never stalls the pump.
        var pause = Math.Min(maxPacketSize + 64 * 1024, int.MaxValue / 2);
        _inbound = new Pipe(new PipeOptions(pauseWriterThreshold: pause, resumeWriterThreshold: pause / 2, useSynchronizationContext: false));
        _outbound = new Pipe(new PipeOptions(useSynchronizationContext: false));
        Transport = new DuplexPipe(_inbound.Reader, _outbound.Writer);
        ConnectionClosed = _closed.Token;
    }

    public override string ConnectionId { get; set; }
    public override IFeatureCollection Features { get; } = new FeatureCollection();
    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
    public override IDuplexPipe Transport { get; set; }

    /// <summary>Why the connection was aborted (a text frame, the handler's own reason), if it was.</summary>
    public string? AbortReason => _abortReason;

    public override void Abort(ConnectionAbortedException abortReason)
    {
        _abortReason ??= abortReason.Message;
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        _socket.Abort();
    }

    /// <summary>Runs <paramref name="handler"/> over the socket until both sides are done.</summary>
    public async Task RunAsync(ConnectionHandler handler)
    {
        var receiving = ReceiveAsync();
        var sending = SendAsync();
        try
        {
            await handler.OnConnectedAsync(this);
        }
        finally
        {
            // The handler has completed its output: the send pump sends what is left, then the
            // close frame. The receive pump then stops (the peer answers the close, or we abort).
            await _outbound.Writer.CompleteAsync();
            await sending;

            // Give the peer a moment to answer our close frame (RFC 6455 §7.1.1), then stop reading.
            await Task.WhenAny(receiving, Task.Delay(TimeSpan.FromSeconds(2)));
            _closed.Cancel();
            await receiving;
            await _inbound.Reader.CompleteAsync();
        }
    }

    private async Task ReceiveAsync()
    {
        var writer = _inbound.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                var memory = writer.GetMemory(4096);
                var result = await _socket.ReceiveAsync(memory, _closed.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                if (result.MessageType != WebSocketMessageType.Binary)
                {
                    // MQTT-6.0.0-1: MQTT travels in binary frames; any other data frame closes the connection.
                    error = new ConnectionAbortedException("WebSocket text frame (MQTT-6.0.0-1)");
                    Abort((ConnectionAbortedException)error);
                    break;
                }

                writer.Advance(result.Count);
                var flush = await writer.FlushAsync();
                if (flush.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            error = _abortReason is { } reason ? new ConnectionAbortedException(reason) : null;
        }
        finally
        {
            // A normal end of input reads as the peer closing; an abort as an aborted connection,
            // as a Kestrel socket would report them.
            await writer.CompleteAsync(error);
        }
    }

    private async Task SendAsync()
    {
        var reader = _outbound.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                try
                {
                    // One flush of the handler is one WebSocket message, possibly in several frames.
                    if (!buffer.IsEmpty)
                    {
                        var position = buffer.Start;
                        var remaining = buffer.Length;
                        while (buffer.TryGet(ref position, out var segment))
                        {
                            remaining -= segment.Length;
                            if (segment.Length > 0 || remaining == 0)
                            {
                                await _socket.SendAsync(segment, WebSocketMessageType.Binary, endOfMessage: remaining == 0, _closed.Token);
                            }
                        }
                    }
                }
                finally
                {
                    reader.AdvanceTo(buffer.End);
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }

            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            _socket.Abort();
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    public override async ValueTask DisposeAsync()
    {
        _closed.Dispose();
        _socket.Dispose();
        await base.DisposeAsync();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}
