using System.Diagnostics.Metrics;

namespace Cicada.Core;

/// <summary>Broker counters (System.Diagnostics.Metrics, meter <c>Cicada</c>).</summary>
public sealed partial class CicadaMetrics : IDisposable
{
    public const string MeterName = "Cicada";

    private readonly Meter _meter;
    private long _connections;

    public CicadaMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        MessagesReceived = _meter.CreateCounter<long>("cicada.messages.received", description: "Messages published into the broker");
        MessagesSent = _meter.CreateCounter<long>("cicada.messages.sent", description: "Messages delivered to subscribers");
        MessagesDropped = _meter.CreateCounter<long>("cicada.messages.dropped", description: "Deliveries dropped by a full session queue");
        ProtocolErrors = _meter.CreateCounter<long>("cicada.protocol.errors", description: "Connections closed for bad input");
        _meter.CreateObservableGauge("cicada.connections", () => Volatile.Read(ref _connections), description: "Connected clients");
        StartTotals();
    }

    public Counter<long> MessagesReceived { get; }
    public Counter<long> MessagesSent { get; }
    public Counter<long> MessagesDropped { get; }
    public Counter<long> ProtocolErrors { get; }

    public long Connections => Volatile.Read(ref _connections);

    public void ConnectionOpened() => Interlocked.Increment(ref _connections);

    public void ConnectionClosed() => Interlocked.Decrement(ref _connections);

    public void Dispose()
    {
        _totals.Dispose();
        _meter.Dispose();
    }
}
