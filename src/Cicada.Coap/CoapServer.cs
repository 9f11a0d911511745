using System.Net;
using System.Net.Sockets;
using Cicada.Coap.Protocol;
using Cicada.Core;
using Cicada.Core.Auth;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Coap;

/// <summary>
/// The CoAP edge (RFC 7252 over UDP): one socket, one receive loop and one timer for the whole
/// edge — retransmissions, separate responses and expiry of remembered exchanges all run off that
/// tick, never a timer per message. Split by concern: message layer here, requests, block-wise
/// transfers and observations in the partial files.
/// </summary>
public sealed partial class CoapServer : BackgroundService
{
    /// <summary>How often the edge's one timer ticks; retransmission timeouts are 2–3 s and up (§4.8).</summary>
    internal static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(100);

    private readonly Broker _broker;
    private readonly IAuthenticator _authenticator;
    private readonly IAuthorizer _authorizer;
    private readonly CoapOptions _options;
    private readonly ILogger<CoapServer> _logger;
    private readonly TimeProvider _time;

    /// <summary>Guards every table below; held briefly, never across an await.</summary>
    private readonly Lock _lock = new();
    private readonly Dictionary<ExchangeKey, Exchange> _exchanges = [];
    private readonly Queue<Exchange> _exchangeExpiry = new();
    private readonly HashSet<Exchange> _unanswered = [];
    private readonly Dictionary<ExchangeKey, Outgoing> _outgoing = [];
    private Socket? _socket;
    private readonly Cicada.Devices.DeviceCommands? _commands;
    private readonly Core.Limits.ConnectionLimiter? _limiter;

    public CoapServer(Broker broker, IAuthenticator authenticator, IOptions<CoapOptions> options, ILogger<CoapServer> logger,
        TimeProvider? timeProvider = null, Cicada.Devices.DeviceCommands? commands = null, IAuthorizer? authorizer = null,
        Core.Limits.ConnectionLimiter? limiter = null)
    {
        _limiter = limiter;
        _commands = commands;
        _authorizer = authorizer ?? AllowAllAuthorizer.Instance;
        _broker = broker;
        _authenticator = authenticator;
        _options = options.Value;
        _logger = logger;
        _time = timeProvider ?? broker.Time;
    }

    /// <summary>The bound address (with the real port when configured with port 0).</summary>
    public IPEndPoint? LocalEndPoint => _socket?.LocalEndPoint as IPEndPoint;

    internal Broker Broker => _broker;

    internal CoapOptions Options => _options;

    internal ILogger Logger => _logger;

    /// <summary>(peer, message id): the key of deduplication (§4.5) and of ACK/RST matching (§4.4).</summary>
    internal readonly record struct ExchangeKey(IPEndPoint Remote, ushort MessageId);

    /// <summary>A request received: remembered for EXCHANGE_LIFETIME so a duplicate gets the same answer (§4.5).</summary>
    private sealed class Exchange(ExchangeKey key, bool confirmable, DateTimeOffset received)
    {
        public readonly ExchangeKey Key = key;
        public readonly bool Confirmable = confirmable;
        public readonly DateTimeOffset Received = received;

        /// <summary>What was sent for it (piggybacked response, or the empty ACK of a separate one); null while working.</summary>
        public byte[]? Reply;

        /// <summary>An empty ACK went out: the response follows as a CON of its own (§5.2.2).</summary>
        public bool Separate;
    }

    /// <summary>One of our CON messages awaiting its ACK (§4.2), retransmitted with exponential back-off.</summary>
    private sealed class Outgoing(ExchangeKey key, byte[] bytes, TimeSpan timeout, DateTimeOffset due, Observation? observation)
    {
        public readonly ExchangeKey Key = key;
        public readonly byte[] Bytes = bytes;
        public readonly Observation? Observation = observation;
        public TimeSpan Timeout = timeout;
        public DateTimeOffset Due = due;
        public int Retransmissions;
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Bound here rather than in ExecuteAsync so a port in use fails the host's start, as
        // Kestrel's listeners do, instead of a background task dying later.
        var endPoint = _options.EndPoint ?? IPEndPoint.Parse(_options.Listen);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = _options.DualMode;
            }

            socket.Bind(endPoint);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _socket = socket;
        CoapLog.Listening(_logger, socket.LocalEndPoint!);
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Graceful stop: every observer hears 5.03 while the socket is still open, so it knows the
        // observation has ended (RFC 7641 §3.2: a non-2.xx notification ends it) rather than waiting
        // for notifications that will never come.
        EndAllObservations();
        _socket?.Dispose();
        await base.StopAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(ReceiveLoopAsync(stoppingToken), TickLoopAsync(stoppingToken));

    private async Task ReceiveLoopAsync(CancellationToken stoppingToken)
    {
        var socket = _socket!;
        var buffer = GC.AllocateUninitializedArray<byte>(65_536);
        EndPoint any = socket.AddressFamily == AddressFamily.InterNetworkV6
            ? new IPEndPoint(IPAddress.IPv6Any, 0)
            : new IPEndPoint(IPAddress.Any, 0);
        while (!stoppingToken.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, stoppingToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // An ICMP error for an earlier send can surface here; it concerns that peer only.
                CoapLog.ReceiveFailed(_logger, ex, socket.LocalEndPoint!);
                continue;
            }

            // The message keeps slices of its datagram, so each datagram gets its own copy.
            var datagram = buffer.AsSpan(0, received.ReceivedBytes).ToArray();
            _broker.Metrics.AddBytesReceived(datagram.Length, "coap");
            try
            {
                OnDatagram(datagram, (IPEndPoint)received.RemoteEndPoint);
            }
            catch (Exception ex)
            {
                // Never a crashed listener: whatever one datagram does, the next is read.
                CoapLog.RequestFailed(_logger, ex, received.RemoteEndPoint, "datagram");
            }
        }
    }

    private async Task TickLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TickInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    Tick(_time.GetUtcNow());
                }
                catch (Exception ex)
                {
                    CoapLog.RequestFailed(_logger, ex, LocalEndPoint!, "tick");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Handles one datagram (the receive loop calls it; tests may too).</summary>
    internal void OnDatagram(byte[] datagram, IPEndPoint remote)
    {
        var status = CoapCodec.TryDecode(datagram, out var message, out var error);
        if (status == CoapDecodeStatus.Ignore)
        {
            return;
        }

        if (status == CoapDecodeStatus.FormatError)
        {
            Reject(message, remote, "RFC 7252 §3", error);
            return;
        }

        switch (message.Type)
        {
            case CoapType.Confirmable or CoapType.NonConfirmable when message.IsEmpty:
                // §4.3: an empty CON is a "ping", answered with RST; an empty NON is a format error.
                if (message.Type == CoapType.Confirmable)
                {
                    Send(CoapCodec.EncodeEmpty(CoapType.Reset, message.MessageId), remote);
                }

                return;
            case CoapType.Confirmable or CoapType.NonConfirmable when CoapCode.IsRequest(message.Code):
                OnRequest(message, remote);
                return;
            case CoapType.Confirmable or CoapType.NonConfirmable:
                // We send no requests, so a response (or a reserved code class 1, 6, 7) matches
                // nothing of ours: reject it (§4.2, §4.3, §5.3.2).
                Reject(message, remote, "RFC 7252 §5.3.2", $"unexpected {CoapCode.Format(message.Code)}");
                return;
            case CoapType.Acknowledgement:
                OnAcknowledgement(new ExchangeKey(remote, message.MessageId));
                return;
            default:
                OnReset(new ExchangeKey(remote, message.MessageId));
                return;
        }
    }

    /// <summary>§4.2/§4.3: a CON we cannot process is answered with RST; a NON is dropped. One log line either way.</summary>
    private void Reject(CoapMessage message, IPEndPoint remote, string rule, string detail)
    {
        _broker.Metrics.ProtocolErrors.Add(1);
        CoapLog.Malformed(_logger, remote, rule, detail);
        if (message.Type == CoapType.Confirmable)
        {
            Send(CoapCodec.EncodeEmpty(CoapType.Reset, message.MessageId), remote);
        }
    }

    private void OnRequest(CoapMessage request, IPEndPoint remote)
    {
        var key = new ExchangeKey(remote, request.MessageId);
        var now = _time.GetUtcNow();
        Exchange exchange;
        lock (_lock)
        {
            if (_exchanges.TryGetValue(key, out var seen))
            {
                // §4.5: a duplicate is not processed again; a CON gets the same reply again, and
                // one still being worked on gets an empty ACK (§5.2.2) so the client stops retrying.
                if (seen.Reply is { } reply)
                {
                    Send(reply, remote);
                }
                else if (seen.Confirmable && !seen.Separate)
                {
                    MakeSeparate(seen);
                }

                return;
            }

            if (_exchanges.Count >= _options.MaxExchanges)
            {
                exchange = new Exchange(key, request.Type == CoapType.Confirmable, now);
                RespondLocked(exchange, request, Error(request, CoapCode.ServiceUnavailable, "too many exchanges"));
                return;
            }

            exchange = new Exchange(key, request.Type == CoapType.Confirmable, now);
            _exchanges.Add(key, exchange);
            _exchangeExpiry.Enqueue(exchange);
            _unanswered.Add(exchange);
        }

        _ = ProcessAsync(exchange, request);
    }

    private async Task ProcessAsync(Exchange exchange, CoapMessage request)
    {
        var context = new RequestContext(request, exchange.Key.Remote);
        CoapMessage? response;
        try
        {
            response = await HandleRequestAsync(context);
        }
        catch (Exception ex)
        {
            CoapLog.RequestFailed(_logger, ex, exchange.Key.Remote, request.ToString());
            response = Error(request, CoapCode.InternalServerError, "internal error");
        }

        lock (_lock)
        {
            _unanswered.Remove(exchange);
            if (response is null)
            {
                return; // a NON dropped on purpose (§4.3)
            }

            RespondLocked(exchange, request, response);
        }

        if (context.Registered is { } observation)
        {
            // RFC 7641 §4.2: notifications follow the registration's response, never precede it.
            ActivateObservation(observation);
        }
    }

    /// <summary>Sends a response as §5.2 says: piggybacked on the ACK, separate as a CON, or as a NON to a NON.</summary>
    private void RespondLocked(Exchange exchange, CoapMessage request, CoapMessage response)
    {
        var remote = exchange.Key.Remote;
        response.Token = request.Token;
        if (response.Type == CoapType.Reset)
        {
            exchange.Reply = CoapCodec.EncodeEmpty(CoapType.Reset, request.MessageId);
            Send(exchange.Reply, remote);
            return;
        }

        if (exchange.Confirmable && !exchange.Separate)
        {
            response.Type = CoapType.Acknowledgement;
            response.MessageId = request.MessageId;
            exchange.Reply = CoapCodec.Encode(response);
            Send(exchange.Reply, remote);
            return;
        }

        // §5.2.2 separate response: a CON of its own; §5.2.3: a NON request gets a NON response.
        response.Type = exchange.Confirmable ? CoapType.Confirmable : CoapType.NonConfirmable;
        response.MessageId = NextMessageIdLocked(remote);
        var bytes = CoapCodec.Encode(response);
        if (!exchange.Confirmable)
        {
            exchange.Reply = bytes;
            Send(bytes, remote);
        }
        else
        {
            SendConfirmableLocked(bytes, remote, response.MessageId, observation: null);
        }
    }

    private void MakeSeparate(Exchange exchange)
    {
        exchange.Separate = true;
        exchange.Reply = CoapCodec.EncodeEmpty(CoapType.Acknowledgement, exchange.Key.MessageId);
        Send(exchange.Reply, exchange.Key.Remote);
    }

    /// <summary>Sends a CON and keeps it for retransmission: initial timeout in [ACK_TIMEOUT, ACK_TIMEOUT × ACK_RANDOM_FACTOR] (§4.2).</summary>
    private void SendConfirmableLocked(byte[] bytes, IPEndPoint remote, ushort messageId, Observation? observation)
    {
        var timeout = CoapTransmission.AckTimeout * (1 + Random.Shared.NextDouble() * (CoapTransmission.AckRandomFactor - 1));
        var key = new ExchangeKey(remote, messageId);
        _outgoing[key] = new Outgoing(key, bytes, timeout, _time.GetUtcNow() + timeout, observation);
        Send(bytes, remote);
    }

    private void OnAcknowledgement(ExchangeKey key)
    {
        Outgoing? acked;
        lock (_lock)
        {
            if (!_outgoing.Remove(key, out acked))
            {
                return; // §4.2: an ACK matching nothing of ours is silently ignored
            }
        }

        if (acked.Observation is { } observation)
        {
            OnNotificationAcknowledged(observation);
        }
    }

    private void OnReset(ExchangeKey key)
    {
        Observation? observation;
        lock (_lock)
        {
            observation = _outgoing.Remove(key, out var reset) ? reset.Observation : FindObservationByNonMessageId(key);
        }

        // RFC 7641 §3.6: RST in reply to a notification deregisters the observer.
        if (observation is not null)
        {
            EndObservation(observation, "reset by the client", notify: false);
        }
    }

    /// <summary>The edge's one timer: retransmissions (§4.2), separate responses (§5.2.2), exchange expiry (§4.5).</summary>
    internal void Tick(DateTimeOffset now)
    {
        List<Observation>? failed = null;
        lock (_lock)
        {
            while (_exchangeExpiry.TryPeek(out var oldest)
                && oldest.Received + (oldest.Confirmable ? CoapTransmission.ExchangeLifetime : CoapTransmission.NonLifetime) <= now)
            {
                _exchangeExpiry.Dequeue();
                _exchanges.Remove(oldest.Key);
                _unanswered.Remove(oldest);
            }

            var separateAfter = TimeSpan.FromMilliseconds(_options.SeparateResponseAfterMilliseconds);
            foreach (var exchange in _unanswered)
            {
                if (exchange.Confirmable && !exchange.Separate && exchange.Received + separateAfter <= now)
                {
                    MakeSeparate(exchange);
                }
            }

            List<ExchangeKey>? expired = null;
            foreach (var outgoing in _outgoing.Values)
            {
                if (outgoing.Due > now)
                {
                    continue;
                }

                if (outgoing.Retransmissions >= CoapTransmission.MaxRetransmit)
                {
                    // §4.2: after MAX_RETRANSMIT the attempt is given up and the sender told.
                    (expired ??= []).Add(outgoing.Key);
                    if (outgoing.Observation is { } observation)
                    {
                        (failed ??= []).Add(observation);
                    }

                    continue;
                }

                outgoing.Retransmissions++;
                outgoing.Timeout *= 2;
                outgoing.Due = now + outgoing.Timeout;
                Send(outgoing.Bytes, outgoing.Key.Remote);
            }

            if (expired is not null)
            {
                foreach (var key in expired)
                {
                    _outgoing.Remove(key);
                }
            }

            ExpireTransfersLocked(now);
            ExpireMessageIdsLocked(now);
        }

        if (failed is not null)
        {
            foreach (var observation in failed)
            {
                // RFC 7641 §4.5: an observer that does not acknowledge a CON notification is removed.
                EndObservation(observation, "notification not acknowledged", notify: false);
            }
        }
    }

    internal void Send(byte[] bytes, IPEndPoint remote)
    {
        if (_socket is not { } socket)
        {
            return;
        }

        try
        {
            socket.SendTo(bytes, SocketFlags.None, remote);
            _broker.Metrics.AddBytesSent(bytes.Length, "coap");
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            CoapLog.SendFailed(_logger, remote, ex.Message);
        }
    }

    /// <summary>Count of CON messages awaiting an ACK (tests).</summary>
    internal int OutgoingCount
    {
        get
        {
            lock (_lock)
            {
                return _outgoing.Count;
            }
        }
    }

    internal static CoapMessage Error(CoapMessage request, byte code, string diagnostic)
    {
        // §5.5.2: an error response may carry a short human-readable diagnostic payload.
        var response = CoapMessage.ResponseTo(request, code);
        response.Payload = System.Text.Encoding.UTF8.GetBytes(diagnostic);
        return response;
    }
}
