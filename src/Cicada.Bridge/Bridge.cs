using System.Net.Sockets;
using System.Security.Authentication;
using Cicada.Core;
using Cicada.Core.Sessions;
using Cicada.Core.Topics;
using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;
using Microsoft.Extensions.Logging;

namespace Cicada.Bridge;

/// <summary>
/// One bridge: an MQTT client of the remote broker and, inside Cicada, an ordinary persistent
/// client session (protocol <c>bridge</c>, client id <c>bridge:NAME</c>). Its <c>out</c> patterns
/// are that session's subscriptions, so while the remote is away Core keeps QoS 1/2 messages for
/// it durably like for any offline client; its <c>in</c> patterns are subscriptions at the remote
/// whose messages it publishes into Core, acknowledging them to the remote only once Core has
/// them (durable). Reconnects with capped exponential back-off.
/// </summary>
public sealed partial class Bridge : IClientConnection, IThreadPoolWorkItem
{
    /// <summary>Time the remote has to answer CONNECT (and TCP/TLS to open) before the attempt counts as failed.</summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    private readonly BridgeSettings _settings;
    private readonly Broker _broker;
    private readonly BridgeMetrics _metrics;
    private readonly ILogger _logger;
    private readonly int _maxPacketSize;
    private readonly KeyValuePair<string, object?> _tag;

    /// <summary>Echo detection for MQTT 3.1.1 remotes (MQTT 5 ones honour No Local); null when no pattern goes both ways.</summary>
    private readonly EchoFilter? _echo;

    // The live connection; replaced on every reconnect.
    private RemoteConnection? _remote;
    private ClientLink? _link;
    private CancellationTokenSource? _connectionCts;
    private string? _closeReason;
    private volatile bool _shuttingDown;

    public Bridge(BridgeSettings settings, Broker broker, BridgeMetrics metrics, ILogger logger, int maxPacketSize)
    {
        _settings = settings;
        _broker = broker;
        _metrics = metrics;
        _logger = logger;
        _maxPacketSize = maxPacketSize;
        _tag = BridgeMetrics.Tag(settings.Name);
        if (!settings.V5 && settings.Outbound.Any() && settings.Inbound.Any())
        {
            _echo = new EchoFilter(broker.Time);
        }
    }

    public BridgeSettings Settings => _settings;

    /// <summary>Whether a remote connection is up and forwarding (tests, dashboard).</summary>
    public bool IsConnected => _ready;

    /// <summary>Connects, forwards until the connection ends, waits, reconnects: until <paramref name="stopping"/>.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        BridgeLog.Configured(_logger, _settings.Name, _settings.Remote, string.Join("; ", _settings.Topics));
        if (_settings.TlsInsecureSkipVerify)
        {
            BridgeLog.InsecureTls(_logger, _settings.Name, _settings.Remote);
        }

        _metrics.SetConnected(_settings.Name, false);
        await PrepareCoreSessionAsync();
        var failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            string reason;
            var connected = false;
            try
            {
                (connected, reason) = await ConnectAndRunAsync(stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Whatever went wrong with one connection (the network, the remote, a CA file that
                // no longer parses, a store write), the bridge logs it and tries again later.
                reason = Describe(ex);
            }

            failures = connected ? 0 : failures + 1;
            var delay = _settings.BackOff(Math.Max(0, failures - 1));
            if (stopping.IsCancellationRequested || _shuttingDown)
            {
                if (connected)
                {
                    BridgeLog.Stopped(_logger, _settings.Name, _settings.Remote, reason);
                }

                return;
            }

            if (connected)
            {
                BridgeLog.Disconnected(_logger, _settings.Name, _settings.Remote, reason, delay.TotalSeconds);
            }
            else
            {
                BridgeLog.ConnectFailed(_logger, _settings.Name, _settings.Remote, reason, delay.TotalSeconds);
            }

            try
            {
                await Task.Delay(delay, _broker.Time, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Makes sure the Core session exists with the <c>out</c> subscriptions before the remote is
    /// ever reached: from the first start on, messages for the remote queue while it is away.
    /// </summary>
    private async Task PrepareCoreSessionAsync()
    {
        var link = _broker.Connect(_settings.CoreClientId, cleanStart: false, uint.MaxValue, this, null, "bridge", null).Link;
        try
        {
            await SyncSubscriptionsAsync(link);
        }
        finally
        {
            _broker.Disconnect(link, publishWill: false);
        }
    }

    /// <summary>One connection: CONNECT/CONNACK, then forwarding until it ends. Returns whether CONNACK accepted it, and why it ended.</summary>
    private async Task<(bool Connected, string Reason)> ConnectAndRunAsync(CancellationToken stopping)
    {
        RemoteConnection remote;
        ConnAck connAck;
        using (var attempt = CancellationTokenSource.CreateLinkedTokenSource(stopping))
        {
            attempt.CancelAfter(ConnectTimeout);
            try
            {
                remote = await RemoteConnection.OpenAsync(_settings, _broker.Time, attempt.Token);
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
                throw new TimeoutException($"no connection within {ConnectTimeout.TotalSeconds} s");
            }

            try
            {
                connAck = await HandshakeAsync(remote, attempt.Token);
            }
            catch (Exception ex)
            {
                await remote.DisposeAsync();
                if (ex is OperationCanceledException && !stopping.IsCancellationRequested)
                {
                    throw new TimeoutException($"no CONNACK within {ConnectTimeout.TotalSeconds} s");
                }

                throw;
            }
        }

        await using (remote)
        {
            if (connAck.Code != 0)
            {
                return (false, $"CONNACK refused: {RefusalText(connAck.Code)}");
            }

            return (true, await RunConnectionAsync(remote, connAck, stopping));
        }
    }

    private async Task<ConnAck> HandshakeAsync(RemoteConnection remote, CancellationToken cancellationToken)
    {
        await remote.SendAsync(static (w, s) => MqttClientCodec.WriteConnect(w, s.Settings, (uint)s.Max), (Settings: _settings, Max: _maxPacketSize),
            cancellationToken);
        while (true)
        {
            var result = await remote.Input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var status = MqttFrameReader.TryRead(ref buffer, _maxPacketSize, out var frame, out _);
            if (status == FrameStatus.Done)
            {
                var body = Contiguous(frame);
                remote.Input.AdvanceTo(buffer.Start);
                if (frame.Type != MqttPacketType.ConnAck)
                {
                    // MQTT-3.2.0-1: the first packet from the server is CONNACK.
                    throw new MqttProtocolException("MQTT-3.2.0-1", $"{frame.Type} before CONNACK");
                }

                return MqttClientCodec.DecodeConnAck(body, _settings.V5);
            }

            if (status is FrameStatus.Malformed or FrameStatus.TooLarge)
            {
                throw new MqttProtocolException("MQTT-2.2.3", $"unreadable CONNACK ({status})");
            }

            remote.Input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                throw new IOException("the remote closed the connection before CONNACK");
            }
        }
    }

    /// <summary>Attaches the Core session, subscribes at the remote, forwards both ways until the connection ends.</summary>
    private async Task<string> RunConnectionAsync(RemoteConnection remote, ConnAck connAck, CancellationToken stopping)
    {
        using var connectionCts = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var token = connectionCts.Token;
        ApplyConnAck(connAck.Properties);
        _closeReason = null;
        var link = _broker.Connect(_settings.CoreClientId, cleanStart: false, uint.MaxValue, this, null, "bridge", remote.RemoteEndPoint).Link;
        _link = link;
        _remote = remote;
        _connectionCts = connectionCts;
        _metrics.Connects.Add(1, _tag);
        _metrics.SetConnected(_settings.Name, true);
        BridgeLog.Connected(_logger, _settings.Name, _settings.Remote, _settings.ClientId, _settings.V5 ? "5" : "3.1.1",
            _settings.CleanSession, connAck.SessionPresent);
        Task<string>? reading = null;
        Task<string>? keepAlive = null;
        try
        {
            await SyncSubscriptionsAsync(link);
            if (!connAck.SessionPresent)
            {
                // A new remote session has no exactly-once flows in progress (MQTT-4.3.3): ids
                // remembered from the old one would wrongly swallow new messages as re-sends.
                ForgetReceivedIds(link.Session);
            }

            reading = ReadLoopAsync(remote, link, connAck.SessionPresent, token);
            keepAlive = KeepAliveAsync(remote, token);
            await SubscribeRemoteAsync(remote, link, connAck.SessionPresent, token);
            var ended = await Task.WhenAny(reading, keepAlive);
            return _closeReason ?? await ended;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return _closeReason ?? (stopping.IsCancellationRequested ? "Cicada is shutting down" : Describe(ex));
        }
        finally
        {
            _ready = false;
            _remote = null;
            _connectionCts = null;
            if (stopping.IsCancellationRequested || _closeReason is not null)
            {
                // MQTT-3.14.4: a normal DISCONNECT, so the remote drops the connection without fuss.
                await SayGoodbyeAsync(remote);
            }

            await connectionCts.CancelAsync();
            remote.Abort();
            if (reading is not null && keepAlive is not null)
            {
                await Task.WhenAll(Quietly(reading), Quietly(keepAlive));
            }

            _broker.Disconnect(link, publishWill: false);
            _link = null;
            _metrics.Disconnects.Add(1, _tag);
            _metrics.SetConnected(_settings.Name, false);
        }
    }

    private static bool IsConnectionError(Exception ex) =>
        ex is IOException or OperationCanceledException or InvalidOperationException or ObjectDisposedException
            or SocketException or MqttProtocolException or AuthenticationException;

    private static async Task SayGoodbyeAsync(RemoteConnection remote)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await remote.SendAsync(static (w, _) => MqttClientCodec.WriteDisconnect(w), 0, timeout.Token);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException or ObjectDisposedException
            or SocketException)
        {
        }
    }

    private static async Task<string> Quietly(Task<string> task)
    {
        try
        {
            return await task;
        }
        catch (Exception ex) when (IsConnectionError(ex))
        {
            return "";
        }
    }

    /// <summary>Sends PINGREQ when nothing else was sent for a keep-alive period (MQTT-3.1.2-23); gives up on a silent remote.</summary>
    private async Task<string> KeepAliveAsync(RemoteConnection remote, CancellationToken token)
    {
        var keepAlive = TimeSpan.FromSeconds(_keepAliveSeconds);
        if (_keepAliveSeconds == 0)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, _broker.Time, token);
        }

        var tick = TimeSpan.FromSeconds(Math.Clamp(_keepAliveSeconds / 4.0, 0.25, 5));
        while (true)
        {
            await Task.Delay(tick, _broker.Time, token);
            // MQTT-3.1.2-24 from the client's side: no packet for 1.5 keep-alive periods means the
            // remote or the path to it is gone, even if TCP has not noticed.
            if (remote.SinceLastReceived > keepAlive * 1.5)
            {
                return $"no packet from the remote for {keepAlive.TotalSeconds * 1.5:0.#} s (keep-alive)";
            }

            if (remote.SinceLastSent >= keepAlive)
            {
                await remote.SendAsync(static (w, _) => MqttClientCodec.WritePingReq(w), 0, token);
            }
        }
    }

    /// <summary>Core asks to close: another connection took the session id over, or the broker stops.</summary>
    public void Close(CloseReason reason)
    {
        // Core closes every client when the broker stops, before the hosted services stop.
        if (reason == CloseReason.ServerShuttingDown)
        {
            _shuttingDown = true;
        }

        _closeReason = reason == CloseReason.SessionTakenOver
            ? $"another client connected to Cicada with the client id {_settings.CoreClientId}"
            : "Cicada is shutting down";
        try
        {
            _connectionCts?.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Keeps the <c>out</c> subscriptions of the Core session equal to the configuration.</summary>
    private async Task SyncSubscriptionsAsync(ClientLink link)
    {
        var wanted = new Dictionary<string, QoS>(StringComparer.Ordinal);
        foreach (var topic in _settings.Outbound)
        {
            wanted[topic.LocalFilter] = (QoS)Math.Max((byte)topic.Qos, (byte)wanted.GetValueOrDefault(topic.LocalFilter));
        }

        var existing = link.Session.Subscriptions;
        foreach (var filter in existing.Keys.Where(f => !wanted.ContainsKey(f)))
        {
            _broker.Unsubscribe(link, filter);
        }

        foreach (var (filter, qos) in wanted)
        {
            // No Local: what the bridge brought in (its origin is this session) never goes back out.
            // Retain As Published: the retain flag crosses the bridge (MQTT 5 §3.8.3.1).
            var options = new SubscriptionOptions(qos, NoLocal: true, RetainAsPublished: true);
            if (existing.TryGetValue(filter, out var current) && current == options)
            {
                continue;
            }

            await _broker.Subscribe(link, filter, options, out var existed);
            if (!existed)
            {
                // Like a new MQTT subscription (MQTT-3.3.1-6): the local retained state goes across once.
                _broker.DeliverRetained(link, filter, options);
            }
        }
    }

    private static void ForgetReceivedIds(Session session)
    {
        for (var id = 1; id <= ushort.MaxValue && session.ReceivedIdCount > 0; id++)
        {
            if (session.HasReceivedId(id))
            {
                session.RemoveReceivedId(id);
            }
        }
    }

    private static ReadOnlySpan<byte> Contiguous(MqttFrame frame) =>
        frame.Body.IsSingleSegment ? frame.Body.FirstSpan : System.Buffers.BuffersExtensions.ToArray(frame.Body);

    private string RefusalText(byte code) => _settings.V5
        ? $"0x{code:X2} {(ReasonCode)code}"
        : code switch
        {
            1 => "1 unacceptable protocol version",
            2 => "2 identifier rejected",
            3 => "3 server unavailable",
            4 => "4 bad user name or password",
            5 => "5 not authorized",
            _ => code.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

    private static string Describe(Exception ex) => ex switch
    {
        MqttProtocolException protocol => $"protocol error from the remote ({protocol.Rule}): {protocol.Message}",
        AuthenticationException tls => $"TLS: {tls.Message}{(tls.InnerException is { } inner ? " " + inner.Message : "")}",
        _ => ex.Message,
    };
}
