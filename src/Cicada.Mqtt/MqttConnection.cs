using System.Buffers;
using System.IO.Pipelines;
using Cicada.Core;
using Cicada.Core.Sessions;
using Cicada.Mqtt.Protocol;
using Microsoft.AspNetCore.Connections;

namespace Cicada.Mqtt;

/// <summary>
/// One MQTT 3.1 / 3.1.1 connection: the read loop and the connection state machine. Packet
/// families live in partial files (Connect, Publish, Subscribe, Delivery).
/// </summary>
internal sealed partial class MqttConnection : IClientConnection, IHeartbeatHandler
{
    private readonly MqttEdge _edge;
    private readonly ConnectionContext _context;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly List<Response> _responses = [];
    private readonly DateTimeOffset _openedAt;
    private readonly IDisposable? _lease;
    private ClientLink? _link;
    private byte _level;
    private int _keepAliveSeconds;
    private long _lastActivity;
    private bool _graceful;
    private volatile string? _closeReason;

    public MqttConnection(MqttEdge edge, ConnectionContext context, IDisposable? lease = null)
    {
        _lease = lease;
        _edge = edge;
        _context = context;
        _input = context.Transport.Input;
        _output = context.Transport.Output;
        _openedAt = edge.Broker.Time.GetUtcNow();
        _lastActivity = Environment.TickCount64;
        _publishBucket = edge.Limiter?.CreatePublishBucket();
    }

    /// <summary>The <c>protocol</c> tag of this edge's byte counts (any transport: TCP, TLS, WebSocket).</summary>
    private const string MetricsProtocol = "mqtt";

    private string ClientId => _link?.ClientId ?? "?";

    /// <summary>Flushes, counting what goes out (the edge counts its own bytes; see ByteCounting in the host).</summary>
    private ValueTask<FlushResult> FlushCountedAsync(CancellationToken cancellationToken = default)
    {
        if (_output.CanGetUnflushedBytes && _output.UnflushedBytes is > 0 and var bytes)
        {
            _edge.Broker.Metrics.AddBytesSent(bytes, MetricsProtocol);
        }

        return _output.FlushAsync(cancellationToken);
    }

    public async Task RunAsync()
    {
        _edge.Heartbeat.Register(this);
        var reason = "connection closed by client";
        try
        {
            // The read loop lives here, not in a method of its own: one async state machine per
            // idle connection instead of two.
            var maxPacketSize = _edge.Options.MaxPacketSize;
            string? ended = null;
            while (ended is null)
            {
                var result = await _input.ReadAsync();
                var buffer = result.Buffer;
                Volatile.Write(ref _lastActivity, Environment.TickCount64);
                string? stop = null;
                try
                {
                    while (stop is null)
                    {
                        var status = MqttFrameReader.TryRead(ref buffer, maxPacketSize, out var frame, out var size);
                        if (status == FrameStatus.NeedMoreData)
                        {
                            break;
                        }

                        if (status == FrameStatus.Malformed)
                        {
                            ThrowHelper.Protocol("MQTT-2.2.3", "Remaining length longer than four bytes or not in its shortest form (MQTT-1.5.5-1)");
                        }

                        if (status == FrameStatus.TooLarge)
                        {
                            // MQTT 5 §3.2.2.3.6: over the Maximum Packet Size we announced: 0x95.
                            // Counted only: the protocol error below is this input's log line.
                            _edge.Limiter?.Counted("packet-size");
                            ThrowHelper.ProtocolError("MQTT-3.2.2-15", $"Packet of {size} bytes exceeds the maximum of {maxPacketSize}",
                                (byte)Protocol.V5.ReasonCode.PacketTooLarge);
                        }

                        stop = await HandleFrameAsync(frame);
                        if (_publishWait is { } wait)
                        {
                            // Back-pressure: no further packet is read until the subscribers caught up
                            // (or the broker's bounded wait ran out). The client is still talking to us.
                            _publishWait = null;
                            await wait;
                            Volatile.Write(ref _lastActivity, Environment.TickCount64);
                        }
                    }
                }
                finally
                {
                    if (result.Buffer.Length - buffer.Length is > 0 and var consumed)
                    {
                        _edge.Broker.Metrics.AddBytesReceived(consumed, MetricsProtocol);
                    }

                    _input.AdvanceTo(buffer.Start, buffer.End);
                }

                await WriteResponsesAsync();
                if (stop is not null)
                {
                    ended = stop;
                }
                else if (result.IsCompleted || result.IsCanceled)
                {
                    ended = reason;
                }
            }

            reason = ended;
        }
        catch (MqttProtocolException ex)
        {
            _edge.Broker.Metrics.ProtocolErrors.Add(1);
            MqttLog.ProtocolError(_edge.Logger, _context.RemoteEndPoint, ClientId, ex.Rule, ex.Message);
            reason = $"protocol error {ex.Rule}";
            await ReportProtocolErrorAsync(ex, reason);
        }
        catch (PublishRateExceededException ex)
        {
            // Limits:MaxPublishesPerSecond: MQTT 5 says why (DISCONNECT 0x96 Message rate too high,
            // §3.14.2.1); a 3.1.1 client has no such code and is just closed (MQTT-4.8.0-1). The
            // limiter has counted and logged it.
            reason = ex.Message;
            await DisconnectAsync(Protocol.V5.ReasonCode.MessageRateTooHigh, reason);
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            reason = _closeReason ?? "connection lost";
        }
        catch (Exception ex)
        {
            MqttLog.Failed(_edge.Logger, ex, _context.RemoteEndPoint, ClientId);
            reason = "internal error";
        }
        finally
        {
            _edge.Heartbeat.Unregister(this);
            if (_link is { } link)
            {
                // MQTT-3.1.2-8: the will goes out on every close but a DISCONNECT (MQTT-3.14.4-3).
                _edge.Broker.Disconnect(link, publishWill: !_graceful);
                MqttLog.Disconnected(_edge.Logger, link.ClientId, _context.RemoteEndPoint, _closeReason ?? reason);
            }

            try
            {
                await _input.CompleteAsync();
                await CompleteOutputAsync();
            }
            finally
            {
                // Held until the socket is done with, as the handler's `using` used to.
                _lease?.Dispose();
            }
        }
    }

    /// <summary>
    /// MQTT 5 §4.13: a v5 client learns why (CONNACK with the reason before it is connected,
    /// DISCONNECT after); a 3.1.1 client is just disconnected (MQTT-4.8.0-1).
    /// </summary>
    private async Task ReportProtocolErrorAsync(MqttProtocolException ex, string reason)
    {
        if (!_v5)
        {
            return;
        }

        if (_connAckSent)
        {
            await DisconnectAsync((Protocol.V5.ReasonCode)ex.ReasonCode, reason);
            return;
        }

        try
        {
            _responses.RemoveAll(r => r.Type != MqttPacketType.ConnAck);
            if (_pendingConnect is not null && _responses.Count == 0)
            {
                // Broken during enhanced authentication (MQTT 5 §4.12): the CONNECT is answered with the reason.
                _responses.Add(Response.ConnAck(false, ConnectReturnCode.Accepted, (Protocol.V5.ReasonCode)ex.ReasonCode));
            }

            await WriteResponsesAsync();
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or OperationCanceledException)
        {
            // The client is gone already.
        }
    }

    private async Task CompleteOutputAsync()
    {
        // A client that stopped reading can hold the drain in FlushAsync for ever: then abort.
        if (!await _writeLock.WaitAsync(TimeSpan.FromSeconds(2)))
        {
            _context.Abort(new ConnectionAbortedException(_closeReason ?? "output stalled"));
            return;
        }

        try
        {
            await _output.CompleteAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Handles one packet; returns a reason when the connection must end after the pending responses.</summary>
    private ValueTask<string?> HandleFrameAsync(MqttFrame frame)
    {
        MqttDecoder.CheckFlags(frame);
        if (_link is null)
        {
            if (_pendingConnect is not null)
            {
                return HandleAuthBeforeConnAckAsync(frame);
            }

            if (frame.Type != MqttPacketType.Connect)
            {
                // MQTT-3.1.0-1: the first packet from the client must be CONNECT.
                ThrowHelper.Protocol("MQTT-3.1.0-1", $"First packet is {frame.Type}, not CONNECT");
            }

            return HandleConnectAsync(frame);
        }

        if (frame.Type == MqttPacketType.Auth && _v5)
        {
            return HandleReauthenticationAsync(frame);
        }

        var body = frame.Body;
        byte[]? rented = null;
        var span = body.IsSingleSegment ? body.FirstSpan : Flatten(body, out rented);
        try
        {
            return new ValueTask<string?>(Handle(frame, span));
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static ReadOnlySpan<byte> Flatten(ReadOnlySequence<byte> body, out byte[] rented)
    {
        rented = ArrayPool<byte>.Shared.Rent((int)body.Length);
        body.CopyTo(rented);
        return rented.AsSpan(0, (int)body.Length);
    }

    private string? Handle(MqttFrame frame, ReadOnlySpan<byte> body)
    {
        switch (frame.Type)
        {
            case MqttPacketType.Publish:
                HandlePublish(MqttDecoder.DecodePublish(frame.Flags, body, _v5));
                return null;
            case MqttPacketType.PubAck:
                HandlePubAck(DecodeAck(body));
                return null;
            case MqttPacketType.PubRec:
                HandlePubRec(DecodeAck(body));
                return null;
            case MqttPacketType.PubRel:
                HandlePubRel(DecodeAck(body));
                return null;
            case MqttPacketType.PubComp:
                HandlePubComp(DecodeAck(body));
                return null;
            case MqttPacketType.Subscribe:
                HandleSubscribe(body);
                return null;
            case MqttPacketType.Unsubscribe:
                HandleUnsubscribe(body);
                return null;
            case MqttPacketType.PingReq:
                ExpectEmpty(body, frame.Type);
                _responses.Add(Response.Packet(MqttPacketType.PingResp, 0));
                return null;
            case MqttPacketType.Disconnect:
                return HandleDisconnect(body);
            case MqttPacketType.Connect:
                // MQTT-3.1.0-2: a second CONNECT is a protocol violation (MQTT 5: 0x82 Protocol Error).
                return ThrowHelper.ProtocolError<string?>("MQTT-3.1.0-2", "Second CONNECT on one connection");
            default:
                return ThrowHelper.Protocol<string?>("MQTT-2.2.1", $"Packet type {frame.Type} is not valid from a client");
        }
    }

    private AckPacket DecodeAck(ReadOnlySpan<byte> body) =>
        _v5 ? MqttDecoder.DecodeAckV5(body) : new AckPacket(MqttDecoder.DecodePacketId(body), 0);

    private string HandleDisconnect(ReadOnlySpan<byte> body)
    {
        if (!_v5)
        {
            ExpectEmpty(body, MqttPacketType.Disconnect);

            // MQTT-3.14.4-3: a DISCONNECT discards the will.
            _graceful = true;
            _link!.Will = null;
            return "DISCONNECT";
        }

        var (reason, props) = MqttDecoder.DecodeReasonAndProperties(body, Protocol.V5.PropertyContext.Disconnect);
        if (props?.SessionExpiryInterval is { } expiry)
        {
            if (_connectExpiry == 0 && expiry != 0)
            {
                // MQTT-3.14.2-2: a session that was to end with the connection cannot be kept now.
                ThrowHelper.ProtocolError("MQTT-3.14.2-2", "Session Expiry set on DISCONNECT after 0 on CONNECT");
            }

            _edge.Broker.SetSessionExpiry(_link!, expiry);
        }

        // MQTT-3.14.4-3 / MQTT-3.1.2-8: only 0x00 Normal disconnection discards the will; 0x04
        // Disconnect with Will Message and every error reason (0x80 and up) have it published.
        _graceful = reason == (byte)Protocol.V5.ReasonCode.Success;
        if (_graceful)
        {
            _link!.Will = null;
        }

        return $"DISCONNECT 0x{reason:X2}";
    }

    private static void ExpectEmpty(ReadOnlySpan<byte> body, MqttPacketType type)
    {
        if (!body.IsEmpty)
        {
            ThrowHelper.Protocol("MQTT-2.2.3", $"{type} with a non-zero remaining length");
        }
    }

    /// <summary>Keep-alive (MQTT-3.1.2-24) and CONNECT timeout, checked by the broker's single heartbeat.</summary>
    public void OnHeartbeat(DateTimeOffset now)
    {
        if (_link is null)
        {
            if (now - _openedAt > TimeSpan.FromSeconds(_edge.Broker.Options.ConnectTimeoutSeconds))
            {
                // Counted with the other limits (cicada_limits_exceeded_total{limit="connect-timeout"}) and logged there.
                _edge.Limiter?.Refused("connect-timeout", "mqtt", _context.RemoteEndPoint, "no CONNECT within Broker:ConnectTimeoutSeconds");
                Abort("no CONNECT within the connect timeout");
            }

            return;
        }

        if (_keepAliveSeconds > 0)
        {
            var idleMs = Environment.TickCount64 - Volatile.Read(ref _lastActivity);
            if (idleMs > _keepAliveSeconds * 1500L)
            {
                // MQTT-3.1.2-24: nothing within one and a half times the keep alive: close, as a failure.
                _ = DisconnectAsync(Protocol.V5.ReasonCode.KeepAliveTimeout, $"keep-alive timeout ({_keepAliveSeconds}s)");
            }
        }
    }

    public void Close(CloseReason reason) =>
        _ = reason == CloseReason.SessionTakenOver
            ? DisconnectAsync(Protocol.V5.ReasonCode.SessionTakenOver, "session taken over (MQTT-3.1.4-2)")
            : DisconnectAsync(Protocol.V5.ReasonCode.ServerShuttingDown, "server shutting down");

    private void Abort(string reason)
    {
        _closeReason ??= reason;
        _context.Abort(new ConnectionAbortedException(reason));
    }
}
