using System.Collections.Concurrent;
using System.Diagnostics;

namespace Cicada.Bench.Mqtt;

/// <summary>
/// One timer keeps every client alive (MQTT-3.1.2-23: send something within the keep-alive),
/// instead of a timer per connection: the idle scenario opens tens of thousands of them.
/// </summary>
internal static class KeepAlivePinger
{
    private static readonly ConcurrentDictionary<MqttBenchClient, ushort> Clients = new();
    private static readonly Lock TimerLock = new();
    private static Timer? _timer;

    public static void Register(MqttBenchClient client, ushort keepAliveSeconds)
    {
        if (keepAliveSeconds == 0)
        {
            return;
        }

        Clients[client] = keepAliveSeconds;
        lock (TimerLock)
        {
            _timer ??= new Timer(_ => Tick(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }
    }

    public static void Unregister(MqttBenchClient client) => Clients.TryRemove(client, out _);

    private static void Tick()
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var (client, keepAlive) in Clients)
        {
            // Ping at half the keep-alive so that a slow tick can never let the broker time us out.
            var idle = (now - client.LastSendTimestamp) / (double)Stopwatch.Frequency;
            if (idle >= keepAlive / 2.0 && client.Fault is null)
            {
                client.SendPing();
            }
        }
    }
}
