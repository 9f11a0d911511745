using System.Diagnostics;
using Cicada.Bench.Mqtt;
using Cicada.Bench.Results;

namespace Cicada.Bench.Scenarios;

/// <summary>connect (a storm of new connections) and idle (the memory a held connection costs).</summary>
internal static class ConnectionScenarios
{
    // Connections that only connect and ping never receive more than a few bytes at once.
    private const int SmallBufferSize = 256;

    public static async Task RunConnectAsync(BenchOptions o, BenchResult result, Progress progress, CancellationToken cancellationToken)
    {
        var endPoint = o.ResolveEndPoint();
        var start = Stopwatch.GetTimestamp();
        var clients = await Connector.ConnectManyAsync(endPoint, o.Connections, 'c', _ => null, SmallBufferSize, o.Concurrency, cancellationToken);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        try
        {
            var histogram = ThroughputScenario.NewLatencyHistogram();
            foreach (var client in clients)
            {
                histogram.RecordValue((long)(client.ConnectTicks * (1e9 / Stopwatch.Frequency)));
            }

            result.Connect = new ConnectFigures
            {
                Connections = o.Connections,
                Seconds = seconds,
                ConnectsPerSecond = o.Connections / seconds,
            };
            result.Latency = Figures.FromHistogram(histogram);
            progress.Line($"{o.Connections:N0} connections accepted in {seconds:0.000} s ({o.Connections / seconds:N0}/s)");

            // A broker that accepts and then drops connections has not really accepted them.
            await Task.Delay(500, cancellationToken);
            Connector.ThrowIfAnyFaulted(clients);
        }
        finally
        {
            await Connector.DisconnectAllAsync(clients);
        }
    }

    public static async Task RunIdleAsync(BenchOptions o, BenchResult result, Progress progress, CancellationToken cancellationToken)
    {
        var endPoint = o.ResolveEndPoint();
        long? before = o.Pid is { } pid ? ProcessMemory.ReadRssKb(pid) : null;
        var start = Stopwatch.GetTimestamp();
        var clients = await Connector.ConnectManyAsync(endPoint, o.Connections, 'i', _ => null, SmallBufferSize, o.Concurrency, cancellationToken);
        try
        {
            progress.Line($"{o.Connections:N0} idle connections open after {Stopwatch.GetElapsedTime(start).TotalSeconds:0.0} s (keep-alive {Connector.KeepAliveSeconds} s)");
            await WatchAsync(clients, o.SettleSeconds, cancellationToken);
            long? after = o.Pid is { } p ? ProcessMemory.ReadRssKb(p) : null;
            await WatchAsync(clients, o.HoldSeconds, cancellationToken);
            result.Idle = new IdleFigures
            {
                Connections = o.Connections,
                RssBeforeKb = before,
                RssAfterKb = after,
                RssPerConnectionBytes = after - before is { } delta ? delta * 1024.0 / o.Connections : null,
                HeldSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds,
            };
            if (after is not null)
            {
                progress.Line($"broker RSS {before:N0} kB → {after:N0} kB: {result.Idle.RssPerConnectionBytes:N0} bytes per connection");
            }
        }
        finally
        {
            await Connector.DisconnectAllAsync(clients);
        }
    }

    /// <summary>Waits while checking every second that no connection was dropped.</summary>
    private static async Task WatchAsync(MqttBenchClient[] clients, double seconds, CancellationToken cancellationToken)
    {
        var until = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        while (true)
        {
            Connector.ThrowIfAnyFaulted(clients);
            var left = until - Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromSeconds(Math.Min(1, left / (double)Stopwatch.Frequency)), cancellationToken);
        }
    }
}
