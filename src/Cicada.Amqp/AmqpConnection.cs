using System.Buffers;
using System.IO.Pipelines;
using Cicada.Amqp.Protocol;
using Cicada.Core;
using Microsoft.AspNetCore.Connections;

namespace Cicada.Amqp;

/// <summary>
/// One AMQP 0-9-1 connection: protocol header, the read loop and channel 0's state machine.
/// Handshake and output live in partial files; each channel is an <see cref="AmqpChannel"/>.
/// </summary>
internal sealed partial class AmqpConnection : IHeartbeatHandler
{
    private enum State
    {
        AwaitingStartOk,
        AwaitingTuneOk,
        AwaitingOpen,
        Open,

        /// <summary>connection.close sent: only close/close-ok count now (§4.2.7 / connection.close).</summary>
        Closing,
    }

    private readonly AmqpEdge _edge;
    private readonly ConnectionContext _context;
    private readonly PipeReader _input;
    private readonly Dictionary<ushort, AmqpChannel> _channels = [];
    private readonly DateTimeOffset _openedAt;
    private State _state;
    private uint _frameMax = FrameType.MinFrameMax;
    private ushort _channelMax;
    private int _heartbeatSeconds;
    private long _lastReceived;
    private long _closingSince;
    private string _user = "?";
    private bool _counted;
    private readonly List<Action> _afterFlush = [];
    private volatile string? _abortReason;

    private readonly Core.Limits.ConnectionLease? _lease;

    /// <param name="lease">The connection's place under the connection limits; null when a limit refused it.</param>
    public AmqpConnection(AmqpEdge edge, ConnectionContext context, Core.Limits.ConnectionLease? lease)
    {
        _edge = edge;
        _context = context;
        _lease = lease;
        _input = context.Transport.Input;
        _output = context.Transport.Output;
        _openedAt = edge.Broker.Time.GetUtcNow();
        _lastReceived = Environment.TickCount64;
        _lastSent = Environment.TickCount64;
        PublishBucket = edge.Limiter?.CreatePublishBucket();
    }

    public AmqpEdge Edge => _edge;

    public uint FrameMax => _frameMax;

    /// <summary>consumer_cancel_notify in the client's capabilities: basic.cancel may be sent to it.</summary>
    public bool CancelNotify { get; private set; }

    public System.Net.EndPoint? Remote => _context.RemoteEndPoint;

    /// <summary>
    /// This connection's Limits:MaxPublishesPerSecond bucket, shared by its channels: they are all
    /// driven by the connection's one read loop, so the bucket needs no lock.
    /// </summary>
    public Core.Limits.TokenBucket? PublishBucket { get; }

    public async Task RunAsync()
    {
        _edge.Heartbeat.Register(this);
        _edge.Track(this);
        var reason = "connection closed by client";
        try
        {
            reason = await ReadLoopAsync() ?? reason;
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException or IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            reason = _abortReason ?? "connection lost";
        }
        catch (Exception ex)
        {
            AmqpLog.Failed(_edge.Logger, ex, Remote);
            reason = "internal error";
        }
        finally
        {
            _lease?.Dispose();
            _edge.Heartbeat.Unregister(this);
            _edge.Untrack(this);
            foreach (var channel in _channels.Values)
            {
                channel.Release();
            }

            _channels.Clear();
            _edge.Host.OnConnectionClosed(this);
            if (_counted)
            {
                _edge.Broker.Metrics.ConnectionClosed("amqp");
            }

            AmqpLog.Closed(_edge.Logger, Remote, _abortReason ?? reason);
            await _input.CompleteAsync();
            await CompleteOutputAsync();
        }
    }

    private async Task<string?> ReadLoopAsync()
    {
        if (!await ReadProtocolHeaderAsync())
        {
            return "wrong protocol header";
        }

        WriteStart();
        await WriteResponsesAsync();
        while (true)
        {
            var result = await _input.ReadAsync();
            if (_stopRequested && BeginServerClose() is { } stopped)
            {
                _input.AdvanceTo(result.Buffer.Start);
                return stopped;
            }

            var buffer = result.Buffer;
            Volatile.Write(ref _lastReceived, Environment.TickCount64);
            string? stop = null;
            try
            {
                while (stop is null)
                {
                    var status = AmqpFrameReader.TryRead(ref buffer, _frameMax, out var frame, out var size);
                    if (status == FrameStatus.NeedMoreData)
                    {
                        break;
                    }

                    if (status != FrameStatus.Done)
                    {
                        // §4.2.3: a frame over frame-max, or without frame-end, is a frame error; the stream
                        // cannot be trusted after it, so the connection closes without reading on.
                        var text = status == FrameStatus.TooLarge
                            ? $"frame size {size + FrameType.Overhead} exceeds the negotiated frame-max {_frameMax}"
                            : "frame does not end with frame-end (0xCE)";
                        if (status == FrameStatus.TooLarge)
                        {
                            _edge.Limiter?.Counted("frame-size"); // the connection error logs the line
                        }

                        stop = await FailConnectionAsync(new AmqpException(ReplyCode.FrameError, text, 0, connectionLevel: true), drain: false);
                        break;
                    }

                    try
                    {
                        stop = HandleFrame(frame);
                    }
                    catch (AmqpException ex) when (ex.IsConnectionError)
                    {
                        stop = await FailConnectionAsync(ex, drain: true);
                    }

                    if (_publishWait is not null)
                    {
                        break; // paced: the frames after this publish wait in the pipe
                    }
                }
            }
            finally
            {
                // Paced with frames left: they are unread, not examined, so the next read returns them.
                _input.AdvanceTo(buffer.Start, _publishWait is null ? buffer.End : buffer.Start);
            }

            await WriteResponsesAsync();
            RunAfterFlush();
            if (stop is null && _publishWait is { } wait)
            {
                // Back-pressure (Broker:OverflowPolicy): a subscriber this publish reached is backed
                // up, so no further frame is read until it caught up or the broker's bounded wait ran
                // out; TCP then slows the publisher, with or without confirms.
                _publishWait = null;
                Volatile.Write(ref _lastReceived, Environment.TickCount64);
                await wait;
                Volatile.Write(ref _lastReceived, Environment.TickCount64);
            }

            if (stop is not null)
            {
                if (stop == ClientClosed)
                {
                    await AwaitPeerCloseAsync();
                }

                return stop;
            }

            if (result.IsCompleted || (result.IsCanceled && !_stopRequested))
            {
                return null;
            }
        }
    }

    private Task? _publishWait;

    /// <summary>Read no further frame before <paramref name="backpressure"/> completes (see the read loop).</summary>
    internal void PaceBy(Task backpressure)
    {
        if (_publishWait is null || _publishWait.IsCompleted)
        {
            _publishWait = backpressure;
        }
    }

    /// <summary>The stop reason when the client sent connection.close.</summary>
    internal const string ClientClosed = "connection.close by client";

    /// <summary>
    /// After close-ok the client closes the socket (§2.2.4); closing it first races frames the client
    /// still has on the way (an ack behind its close) into a write error on its side. Wait for the
    /// client's end of stream, discarding what arrives, but never for long.
    /// </summary>
    private async Task AwaitPeerCloseAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync(timeout.Token);
                _input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The client kept its socket open: close it ourselves.
        }
    }

    /// <summary>§4.2.2: the client opens with "AMQP" 0 0 9 1; anything else gets ours and the socket closes.</summary>
    private async Task<bool> ReadProtocolHeaderAsync()
    {
        var header = AmqpFrameReader.ProtocolHeader.ToArray();
        while (true)
        {
            var result = await _input.ReadAsync();
            var buffer = result.Buffer;
            if (buffer.Length >= header.Length || result.IsCompleted)
            {
                var received = buffer.Slice(0, Math.Min(header.Length, buffer.Length)).ToArray();
                _input.AdvanceTo(buffer.GetPosition(received.Length));
                if (received.AsSpan().SequenceEqual(header))
                {
                    return true;
                }

                if (received.Length > 0)
                {
                    AmqpLog.BadHeader(_edge.Logger, Remote, Convert.ToHexString(received));
                    await WriteRawAsync(header);
                }

                return false;
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Handles one frame; returns a reason when the connection must end after pending output.</summary>
    private string? HandleFrame(in AmqpFrame frame)
    {
        switch (frame.Type)
        {
            case FrameType.Heartbeat:
                if (frame.Channel != 0)
                {
                    // §4.2.7: heartbeat frames use channel 0.
                    Throw.Connection(ReplyCode.FrameError, "heartbeat frame on a channel other than 0");
                }

                return null;
            case FrameType.Method:
                return HandleMethodFrame(frame);
            case FrameType.Header:
            case FrameType.Body:
                if (_state == State.Closing)
                {
                    return null;
                }

                if (frame.Channel == 0 || !_channels.TryGetValue(frame.Channel, out var channel))
                {
                    channel = null;
                    Throw.Connection(ReplyCode.ChannelError, $"content frame on channel {frame.Channel}, which is not open");
                }

                var span = Flatten(frame.Payload, out var rented);
                try
                {
                    channel!.HandleContentFrame(frame.Type, span);
                }
                catch (AmqpException ex) when (!ex.IsConnectionError)
                {
                    // A soft error found once the content is complete (too large, invalid expiration): only the channel closes (§1.2).
                    AmqpLog.ChannelError(_edge.Logger, Remote, frame.Channel, ex.Code, ex.Message);
                    channel!.Fail(ex);
                }
                finally
                {
                    Return(rented);
                }

                return null;
            default:
                return Throw.Connection<string?>(ReplyCode.FrameError, $"unknown frame type {frame.Type}");
        }
    }

    private string? HandleMethodFrame(in AmqpFrame frame)
    {
        var span = Flatten(frame.Payload, out var rented);
        try
        {
            var reader = new AmqpReader(span);
            var method = (uint)reader.ReadShort() << 16 | reader.ReadShort();
            if (frame.Channel == 0)
            {
                return HandleConnectionMethod(method, ref reader);
            }

            if (_state == State.Closing)
            {
                return null;
            }

            if (_state != State.Open)
            {
                Throw.Connection(ReplyCode.ChannelError, "channel method before connection.open", method);
            }

            HandleChannelMethod(frame.Channel, method, ref reader);
            return null;
        }
        finally
        {
            Return(rented);
        }
    }

    private void HandleChannelMethod(ushort number, uint method, ref AmqpReader reader)
    {
        if (!_channels.TryGetValue(number, out var channel))
        {
            if (method != Method.ChannelOpen)
            {
                // §channel: methods other than open on a channel that is not open are a channel error (504).
                Throw.Connection(ReplyCode.ChannelError, $"expected channel.open on channel {number}", method);
            }

            if (number > _channelMax)
            {
                Throw.Connection(ReplyCode.ChannelError, $"channel {number} is above channel-max {_channelMax}", method);
            }

            reader.ReadShortString(); // reserved-1
            _channels[number] = new AmqpChannel(this, number);
            Out.BeginMethod(number, Method.ChannelOpenOk);
            Out.WriteLongString(string.Empty); // reserved-1
            Out.EndFrame();
            return;
        }

        if (method == Method.ChannelOpen)
        {
            Throw.Connection(ReplyCode.ChannelError, $"channel {number} is already open", method);
        }

        try
        {
            if (channel.Handle(method, ref reader))
            {
                _channels.Remove(number);
            }
        }
        catch (AmqpException ex) when (!ex.IsConnectionError)
        {
            // §1.2 exceptions: a soft error closes only the channel.
            AmqpLog.ChannelError(_edge.Logger, Remote, number, ex.Code, ex.Message);
            channel.Fail(ex);
        }
    }

    /// <summary>Runs <paramref name="action"/> once the replies gathered so far are written (a consumer starts after its consume-ok, §basic.consume-ok).</summary>
    public void AfterFlush(Action action) => _afterFlush.Add(action);

    private void RunAfterFlush()
    {
        foreach (var action in _afterFlush)
        {
            action();
        }

        _afterFlush.Clear();
    }

    private static ReadOnlySpan<byte> Flatten(in ReadOnlySequence<byte> payload, out byte[]? rented)
    {
        if (payload.IsSingleSegment)
        {
            rented = null;
            return payload.FirstSpan;
        }

        rented = ArrayPool<byte>.Shared.Rent((int)payload.Length);
        payload.CopyTo(rented);
        return rented.AsSpan(0, (int)payload.Length);
    }

    private static void Return(byte[]? rented)
    {
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Connection timeout before Open, missed heartbeats, a close-ok that never comes; and our own heartbeats.</summary>
    public void OnHeartbeat(DateTimeOffset now)
    {
        if (_state < State.Open)
        {
            if (now - _openedAt > TimeSpan.FromSeconds(_edge.Broker.Options.ConnectTimeoutSeconds))
            {
                _edge.Limiter?.Refused("connect-timeout", "amqp", Remote, "no connection.open within Broker:ConnectTimeoutSeconds");
                Abort("no connection.open within the connect timeout");
            }

            return;
        }

        if (_state == State.Closing)
        {
            if (Environment.TickCount64 - _closingSince > 5_000)
            {
                Abort("no connection.close-ok within 5 s");
            }

            return;
        }

        if (_heartbeatSeconds > 0)
        {
            var tick = Environment.TickCount64;
            // §4.2.7: a peer silent for two heartbeat intervals is gone (RabbitMQ's rule too).
            if (tick - Volatile.Read(ref _lastReceived) > _heartbeatSeconds * 2000L)
            {
                Abort($"missed heartbeats from client ({_heartbeatSeconds}s)");
                return;
            }

            if (tick - Volatile.Read(ref _lastSent) >= _heartbeatSeconds * 500L)
            {
                _ = SendHeartbeatAsync();
            }
        }
    }

    private void Abort(string reason)
    {
        _abortReason ??= reason;
        _context.Abort(new ConnectionAbortedException(reason));
    }
}
