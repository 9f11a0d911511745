using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Core.Limits;

/// <summary>
/// Counts open connections (globally and per IP address) and checks the topic and subscription
/// limits of <see cref="LimitsOptions"/>, for every edge. Each refusal adds to the
/// <c>cicada.limits.exceeded</c> counter (tag <c>limit</c>) and is logged, at most a few lines a
/// second so a flood cannot flood the log too.
/// </summary>
public sealed partial class ConnectionLimiter
{
    private const int MaxLogLinesPerSecond = 10;

    private readonly LimitsOptions _options;
    private readonly ILogger _logger;
    private readonly Counter<long>? _exceeded;
    private readonly ConcurrentDictionary<IPAddress, int> _perIp = new();
    private readonly KeyedBuckets<IPAddress>? _httpRequests;
    private readonly KeyedBuckets<IPAddress>? _publishesFromIp;
    private readonly KeyedBuckets<EndPoint>? _publishesFromPeer;
    private int _open;
    private long _logSecond;
    private int _logged;

    public ConnectionLimiter(IOptions<LimitsOptions> options, ILogger<ConnectionLimiter> logger, IMeterFactory? meterFactory = null)
    {
        _options = options.Value;
        _logger = logger;
        _exceeded = meterFactory?.Create(CicadaMetrics.MeterName)
            .CreateCounter<long>("cicada.limits.exceeded", description: "Requests refused by a configured limit");
        if (_options.MaxHttpRequestsPerSecond > 0)
        {
            _httpRequests = new KeyedBuckets<IPAddress>(_options.MaxHttpRequestsPerSecond, _options.HttpRequestBurst);
        }

        if (_options.MaxPublishesPerSecond > 0)
        {
            _publishesFromIp = new KeyedBuckets<IPAddress>(_options.MaxPublishesPerSecond, _options.PublishBurst);
            _publishesFromPeer = new KeyedBuckets<EndPoint>(_options.MaxPublishesPerSecond, _options.PublishBurst);
        }
    }

    public LimitsOptions Options => _options;

    /// <summary>Connections currently counted.</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>
    /// Counts a new connection from <paramref name="remote"/>; null when a limit refuses it (the
    /// edge answers with its protocol's "server busy / quota" error and closes). Dispose the lease
    /// when the connection ends.
    /// </summary>
    public ConnectionLease? TryOpen(string protocol, EndPoint? remote)
    {
        var address = (remote as IPEndPoint)?.Address;
        if (address is { IsIPv4MappedToIPv6: true })
        {
            address = address.MapToIPv4();
        }

        var open = Interlocked.Increment(ref _open);
        if (_options.MaxConnections > 0 && open > _options.MaxConnections)
        {
            Interlocked.Decrement(ref _open);
            Exceeded("max-connections", protocol, remote, $"{_options.MaxConnections} connections are open (Limits:MaxConnections)");
            return null;
        }

        if (address is not null && _options.MaxConnectionsPerIp > 0)
        {
            var fromIp = _perIp.AddOrUpdate(address, 1, (_, n) => n + 1);
            if (fromIp > _options.MaxConnectionsPerIp)
            {
                Release(address);
                Interlocked.Decrement(ref _open);
                Exceeded("max-connections-per-ip", protocol, remote,
                    $"{_options.MaxConnectionsPerIp} connections from {address} are open (Limits:MaxConnectionsPerIp)");
                return null;
            }
        }
        else
        {
            address = null; // not counted per IP
        }

        return new ConnectionLease(this, address);
    }

    /// <summary>
    /// A publish-rate bucket for one client connection (Limits:MaxPublishesPerSecond), or null
    /// when there is no such limit. Check it with <see cref="AllowsPublish"/> from the connection's
    /// own read loop only.
    /// </summary>
    public TokenBucket? CreatePublishBucket() => _options.MaxPublishesPerSecond > 0
        ? new TokenBucket(_options.MaxPublishesPerSecond, _options.PublishBurst > 0 ? _options.PublishBurst : _options.MaxPublishesPerSecond)
        : null;

    /// <summary>False (and counted, logged) when the client's publish bucket is empty.</summary>
    public bool AllowsPublish(TokenBucket? bucket, string protocol, string clientId, EndPoint? remote)
    {
        if (bucket is null || bucket.TryTake())
        {
            return true;
        }

        Exceeded("publish-rate", protocol, remote,
            $"client {clientId} publishes faster than {_options.MaxPublishesPerSecond}/s (Limits:MaxPublishesPerSecond, Limits:PublishBurst)");
        return false;
    }

    /// <summary>
    /// For edges without a connection per client (HTTP): Limits:MaxHttpRequestsPerSecond per IP
    /// address. False (counted, logged) when over it, with the seconds until a retry may succeed.
    /// </summary>
    public bool AllowsRequest(string protocol, EndPoint? remote, out int retryAfterSeconds) =>
        Allows(_httpRequests, "request-rate", protocol, remote, out retryAfterSeconds,
            $"{Address(remote)} makes more than {_options.MaxHttpRequestsPerSecond} requests/s (Limits:MaxHttpRequestsPerSecond)");

    /// <summary>Limits:MaxPublishesPerSecond counted per IP address, for edges without a connection per client (HTTP).</summary>
    public bool AllowsPublishFrom(string protocol, EndPoint? remote, out int retryAfterSeconds) =>
        Allows(_publishesFromIp, "publish-rate", protocol, remote, out retryAfterSeconds,
            $"{Address(remote)} publishes faster than {_options.MaxPublishesPerSecond}/s (Limits:MaxPublishesPerSecond)");

    /// <summary>
    /// Limits:MaxPublishesPerSecond counted per peer endpoint (address and port), for datagram
    /// edges (CoAP) where a peer endpoint is the client: devices behind one NAT keep their own buckets.
    /// </summary>
    public bool AllowsPublishFromPeer(string protocol, EndPoint remote, out int retryAfterSeconds)
    {
        retryAfterSeconds = 0;
        if (_publishesFromPeer is null || _publishesFromPeer.TryTake(remote, out retryAfterSeconds))
        {
            return true;
        }

        Exceeded("publish-rate", protocol, remote,
            $"{remote} publishes faster than {_options.MaxPublishesPerSecond}/s (Limits:MaxPublishesPerSecond, Limits:PublishBurst)");
        return false;
    }

    private bool Allows(KeyedBuckets<IPAddress>? buckets, string limit, string protocol, EndPoint? remote, out int retryAfterSeconds, string detail)
    {
        retryAfterSeconds = 0;
        if (buckets is null || Address(remote) is not { } address || buckets.TryTake(address, out retryAfterSeconds))
        {
            return true;
        }

        Exceeded(limit, protocol, remote, detail);
        return false;
    }

    private static IPAddress? Address(EndPoint? remote) =>
        (remote as IPEndPoint)?.Address is { } a ? (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a) : null;

    /// <summary>Counts and logs (rate-limited) a refusal an edge decided itself, e.g. an HTTP body over Http:MaxBodySize.</summary>
    public void Refused(string limit, string protocol, EndPoint? remote, string detail) => Exceeded(limit, protocol, remote, detail);

    /// <summary>
    /// Counts a refusal in <c>cicada_limits_exceeded_total</c> without a line of its own, for an edge
    /// whose protocol error already logs it (one line per bad input, not two).
    /// </summary>
    public void Counted(string limit) => _exceeded?.Add(1, new KeyValuePair<string, object?>("limit", limit));

    /// <summary>False (and counted, logged) when a session already holds the most subscriptions it may.</summary>
    public bool AllowsSubscription(string protocol, string clientId, int held)
    {
        if (_options.MaxSubscriptionsPerClient <= 0 || held < _options.MaxSubscriptionsPerClient)
        {
            return true;
        }

        Exceeded("max-subscriptions", protocol, null, $"client {clientId} holds {held} subscriptions (Limits:MaxSubscriptionsPerClient)");
        return false;
    }

    /// <summary>False (and counted, logged) for a topic name or filter over the level or length limit.</summary>
    public bool AllowsTopic(string protocol, string clientId, string topic)
    {
        var maxLength = _options.MaxTopicLength;
        if (maxLength > 0 && topic.Length * 3 > maxLength && Encoding.UTF8.GetByteCount(topic) > maxLength)
        {
            Exceeded("max-topic-length", protocol, null, $"client {clientId}: topic of more than {maxLength} bytes (Limits:MaxTopicLength)");
            return false;
        }

        var maxLevels = _options.MaxTopicLevels;
        if (maxLevels > 0 && topic.AsSpan().Count('/') + 1 > maxLevels)
        {
            Exceeded("max-topic-levels", protocol, null, $"client {clientId}: topic '{topic}' has more than {maxLevels} levels (Limits:MaxTopicLevels)");
            return false;
        }

        return true;
    }

    internal void Close(IPAddress? address)
    {
        if (address is not null)
        {
            Release(address);
        }

        Interlocked.Decrement(ref _open);
    }

    private void Release(IPAddress address)
    {
        while (_perIp.TryGetValue(address, out var n))
        {
            if (n <= 1 ? _perIp.TryRemove(new KeyValuePair<IPAddress, int>(address, n)) : _perIp.TryUpdate(address, n - 1, n))
            {
                return;
            }
        }
    }

    private void Exceeded(string limit, string protocol, EndPoint? remote, string detail)
    {
        _exceeded?.Add(1, new KeyValuePair<string, object?>("limit", limit));
        var second = Environment.TickCount64 / 1000;
        if (Interlocked.Exchange(ref _logSecond, second) != second)
        {
            Volatile.Write(ref _logged, 0);
        }

        if (Interlocked.Increment(ref _logged) <= MaxLogLinesPerSecond)
        {
            LogExceeded(protocol, remote?.ToString() ?? "-", limit, detail);
        }
    }

    [LoggerMessage(EventId = 130, Level = LogLevel.Warning, Message = "{Protocol} request from {Remote} refused by limit {Limit}: {Detail}")]
    private partial void LogExceeded(string protocol, string remote, string limit, string detail);
}

/// <summary>One counted connection; disposing it uncounts it (once).</summary>
public sealed class ConnectionLease : IDisposable
{
    private ConnectionLimiter? _limiter;
    private readonly IPAddress? _address;

    internal ConnectionLease(ConnectionLimiter limiter, IPAddress? address)
    {
        _limiter = limiter;
        _address = address;
    }

    public void Dispose() => Interlocked.Exchange(ref _limiter, null)?.Close(_address);
}

/// <summary>
/// One token bucket per IP address or peer endpoint, each locked on its own (HTTP requests and
/// CoAP datagrams are not the MQTT hot path). Bounded: past <see cref="MaxAddresses"/> keys the
/// table starts afresh, so a scan from many addresses cannot grow it without end (at worst it
/// forgets who was throttled).
/// </summary>
internal sealed class KeyedBuckets<TKey>(double rate, int burst)
    where TKey : notnull
{
    private const int MaxAddresses = 100_000;

    private readonly ConcurrentDictionary<TKey, TokenBucket> _buckets = new();

    public bool TryTake(TKey address, out int retryAfterSeconds)
    {
        if (_buckets.Count >= MaxAddresses)
        {
            _buckets.Clear();
        }

        var bucket = _buckets.GetOrAdd(address, static (_, s) => new TokenBucket(s.rate, s.burst > 0 ? s.burst : s.rate), (rate, burst));
        lock (bucket)
        {
            var allowed = bucket.TryTake();
            retryAfterSeconds = allowed ? 0 : bucket.RetryAfterSeconds;
            return allowed;
        }
    }
}
