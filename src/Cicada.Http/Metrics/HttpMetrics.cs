using System.Diagnostics.Metrics;
using Cicada.Core;
using Cicada.Devices;

namespace Cicada.Http.Metrics;

/// <summary>
/// Gauges of the broker's state on the <c>Cicada</c> meter, read at scrape time (the cost is one
/// pass over the sessions per scrape, none per message), plus the HTTP edge's own connections.
/// Exposed with Core's counters on <c>/metrics</c>.
/// </summary>
public sealed class HttpMetrics
{
    private long _webSockets;

    public HttpMetrics(IMeterFactory meterFactory, Broker broker, DeviceRegistry devices)
    {
        // The factory hands back the Meter Core's CicadaMetrics created under the same name.
        var meter = meterFactory.Create(CicadaMetrics.MeterName);
        meter.CreateObservableGauge("cicada.sessions", () => broker.Sessions.Count, description: "Sessions, connected or not");
        meter.CreateObservableGauge("cicada.clients.connected", () => ConnectedByProtocol(broker),
            description: "Connected clients by protocol");
        meter.CreateObservableGauge("cicada.retained.messages", () => broker.Retained.Count, description: "Retained messages");
        meter.CreateObservableGauge("cicada.subscriptions", () => broker.Subscriptions.Count, description: "Subscriptions");
        meter.CreateObservableGauge("cicada.queue.depth", () => QueueDepth(broker),
            description: "Deliveries waiting in session queues");
        meter.CreateObservableGauge("cicada.devices", () => devices.Count, description: "Registered devices");
        meter.CreateObservableGauge("cicada.websocket.connections", () => Volatile.Read(ref _webSockets),
            description: "Open MQTT-over-WebSocket connections");
    }

    public void WebSocketOpened() => Interlocked.Increment(ref _webSockets);

    public void WebSocketClosed() => Interlocked.Decrement(ref _webSockets);

    private static IEnumerable<Measurement<long>> ConnectedByProtocol(Broker broker)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var session in broker.Sessions)
        {
            if (session.ConnectedLink is { } link)
            {
                counts[link.Protocol] = counts.GetValueOrDefault(link.Protocol) + 1;
            }
        }

        return counts.Select(kv => new Measurement<long>(kv.Value, new KeyValuePair<string, object?>("protocol", kv.Key)));
    }

    private static long QueueDepth(Broker broker)
    {
        long depth = 0;
        foreach (var session in broker.Sessions)
        {
            depth += session.PendingCount;
        }

        return depth;
    }
}
