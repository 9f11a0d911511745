using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace Cicada.Core;

/// <summary>Broker counters (System.Diagnostics.Metrics, meter <c>Cicada</c>).</summary>
public sealed partial class CicadaMetrics : IDisposable
{
    public const string MeterName = "Cicada";

    private readonly Meter _meter;
    private readonly ConcurrentDictionary<string, StrongBox<long>> _connectionsByProtocol = new(StringComparer.Ordinal);
    private long _connections;

    public CicadaMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        MessagesReceived = _meter.CreateCounter<long>("cicada.messages.received", description: "Messages published into the broker");
        MessagesSent = _meter.CreateCounter<long>("cicada.messages.sent", description: "Messages delivered to subscribers");
        MessagesDropped = _meter.CreateCounter<long>("cicada.messages.dropped", description: "Deliveries dropped by a full session queue");
        PublishesThrottled = _meter.CreateCounter<long>("cicada.publishes.throttled",
            description: "Publishes that waited for a slow subscriber's queue to drain (Broker:OverflowPolicy backpressure)");
        BackpressureTimeouts = _meter.CreateCounter<long>("cicada.backpressure.timeouts",
            description: "Back-pressure waits that ran out (Broker:BackpressureMaxWaitMilliseconds); tag stuck=true when the subscriber took nothing meanwhile");
        ProtocolErrors = _meter.CreateCounter<long>("cicada.protocol.errors", description: "Connections closed for bad input");
        BytesReceived = _meter.CreateCounter<long>("cicada.bytes.received", unit: "By",
            description: "Bytes read from clients, by protocol (tag protocol; MQTT counts its packets on any transport, other TLS listeners the encrypted bytes)");
        BytesSent = _meter.CreateCounter<long>("cicada.bytes.sent", unit: "By", description: "Bytes written to clients, by protocol (tag protocol)");

        // Commits of a group-committing store take from tens of microseconds (page cache) to
        // tens of milliseconds (fsync on a slow disk): the default buckets start at 5 ms.
        StoreCommitDuration = _meter.CreateHistogram("cicada.store.commit.duration", unit: "s",
            description: "Time to write and commit one batch to durable storage (tag store)",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
        _meter.CreateObservableGauge("cicada.connections", ObserveConnections, description: "Connected clients, by protocol (tag protocol)");
        StartTotals();
    }

    public Counter<long> MessagesReceived { get; }
    public Counter<long> MessagesSent { get; }
    public Counter<long> MessagesDropped { get; }
    public Counter<long> ProtocolErrors { get; }

    /// <summary>Publishes that had to wait for a subscriber's queue (back-pressure).</summary>
    public Counter<long> PublishesThrottled { get; }

    /// <summary>Back-pressure waits that ran out; tagged <c>stuck</c>.</summary>
    public Counter<long> BackpressureTimeouts { get; }

    /// <summary>Bytes in from clients; edges tag each measurement with <c>protocol</c>.</summary>
    public Counter<long> BytesReceived { get; }

    /// <summary>Bytes out to clients; edges tag each measurement with <c>protocol</c>.</summary>
    public Counter<long> BytesSent { get; }

    /// <summary>Seconds per durable batch (write + commit); stores tag it with <c>store</c>.</summary>
    public Histogram<double> StoreCommitDuration { get; }

    /// <summary>Adds bytes received over <paramref name="protocol"/> (an edge's own name, e.g. from its listener).</summary>
    public void AddBytesReceived(long bytes, string protocol) =>
        BytesReceived.Add(bytes, new KeyValuePair<string, object?>("protocol", protocol));

    /// <summary>Adds bytes sent over <paramref name="protocol"/>.</summary>
    public void AddBytesSent(long bytes, string protocol) =>
        BytesSent.Add(bytes, new KeyValuePair<string, object?>("protocol", protocol));

    public long Connections => Volatile.Read(ref _connections);

    /// <summary>A client connection over <paramref name="protocol"/> opened (the broker's own sessions are not counted).</summary>
    public void ConnectionOpened(string protocol)
    {
        Interlocked.Increment(ref _connections);
        Interlocked.Increment(ref _connectionsByProtocol.GetOrAdd(protocol, static _ => new StrongBox<long>()).Value);
    }

    public void ConnectionClosed(string protocol)
    {
        Interlocked.Decrement(ref _connections);
        Interlocked.Decrement(ref _connectionsByProtocol.GetOrAdd(protocol, static _ => new StrongBox<long>()).Value);
    }

    private IEnumerable<Measurement<long>> ObserveConnections()
    {
        foreach (var (protocol, count) in _connectionsByProtocol)
        {
            yield return new Measurement<long>(Volatile.Read(ref count.Value), new KeyValuePair<string, object?>("protocol", protocol));
        }
    }

    public void Dispose()
    {
        _totals.Dispose();
        _meter.Dispose();
    }
}
