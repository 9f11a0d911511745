using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Cicada.Core;

namespace Cicada.Bridge;

/// <summary>Bridge counters on Cicada's meter (so <c>/metrics</c> shows them), tagged with the bridge's name.</summary>
public sealed class BridgeMetrics
{
    private readonly ConcurrentDictionary<string, int> _connected = new(StringComparer.Ordinal);

    public BridgeMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(CicadaMetrics.MeterName);
        Connects = meter.CreateCounter<long>("cicada.bridge.connects", description: "Connections a bridge made to its remote broker");
        Disconnects = meter.CreateCounter<long>("cicada.bridge.disconnects", description: "Connections to a remote broker lost or closed");
        MessagesIn = meter.CreateCounter<long>("cicada.bridge.messages.in", description: "Messages a bridge brought in from its remote broker");
        MessagesOut = meter.CreateCounter<long>("cicada.bridge.messages.out", description: "Messages a bridge sent to its remote broker");
        meter.CreateObservableGauge("cicada.bridge.connected",
            () => _connected.Select(b => new Measurement<int>(b.Value, new KeyValuePair<string, object?>("bridge", b.Key))),
            description: "1 while a bridge is connected to its remote broker");
    }

    public Counter<long> Connects { get; }
    public Counter<long> Disconnects { get; }
    public Counter<long> MessagesIn { get; }
    public Counter<long> MessagesOut { get; }

    public void SetConnected(string bridge, bool connected) => _connected[bridge] = connected ? 1 : 0;

    public static KeyValuePair<string, object?> Tag(string bridge) => new("bridge", bridge);
}
