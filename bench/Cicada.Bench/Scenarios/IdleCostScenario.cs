using System.Diagnostics;
using Cicada.Bench.Mqtt;
using Cicada.Bench.Results;

namespace Cicada.Bench.Scenarios;

/// <summary>
/// pubsub with <c>--idle-subscribers N</c>: what N idle sessions, each subscribed to its own
/// unrelated exact topic, cost a 1→1 flow. Runs 1→1 without them, connects and subscribes them,
/// runs 1→1 again, disconnects them and runs 1→1 a third time; the share kept is the middle run
/// over the mean of the outer two, which cancels the first run's disadvantage (a fresh load
/// generator still tiering its JIT) and any linear drift of a shared machine's load. All runs
/// share one process and one minute.
/// A broker that scans every session or every subscription per publish loses throughput here.
/// </summary>
internal static class IdleCostScenario
{
    // Idle sessions never receive anything but SUBACK (and PINGRESP).
    private const int SmallBufferSize = 256;
    private static readonly TimeSpan SubscribeTimeout = TimeSpan.FromSeconds(60);

    public static async Task RunAsync(BenchOptions o, BenchResult result, Progress progress, CancellationToken cancellationToken)
    {
        progress.Line($"{o.Name}: first without idle sessions");
        var before = await RunWithoutAsync(o, result, progress, "before", cancellationToken);

        var endPoint = o.ResolveEndPoint();
        var start = Stopwatch.GetTimestamp();
        var idle = await Connector.ConnectManyAsync(endPoint, o.IdleSubscribers, 'u', _ => null, SmallBufferSize, o.Concurrency, cancellationToken);
        try
        {
            await Parallel.ForEachAsync(
                Enumerable.Range(0, idle.Length),
                new ParallelOptions { MaxDegreeOfParallelism = o.Concurrency, CancellationToken = cancellationToken },
                async (i, _) => await idle[i].SubscribeAsync(IdleTopic(o.TopicPrefix, i), o.Qos, SubscribeTimeout));
            var setup = Stopwatch.GetElapsedTime(start).TotalSeconds;
            progress.Line($"{o.IdleSubscribers:N0} idle sessions subscribed in {setup:0.0} s; now with them");

            await ThroughputScenario.RunAsync(o, result, progress, cancellationToken, $"{o.TopicPrefix}/with");
            Connector.ThrowIfAnyFaulted(idle);
            await Connector.DisconnectAllAsync(idle);
            idle = [];
            progress.Line($"{o.Name}: again without idle sessions");
            var after = await RunWithoutAsync(o, result, progress, "after", cancellationToken);
            result.IdleCost = Figures(o.IdleSubscribers, (before + after) / 2, result.Throughput!.DeliveredPerSecond, setup);
        }
        finally
        {
            await Connector.DisconnectAllAsync(idle);
        }
    }

    /// <summary>One 1→1 run without idle sessions; its problems count against the whole result.</summary>
    private static async Task<double> RunWithoutAsync(BenchOptions o, BenchResult result, Progress progress, string when, CancellationToken cancellationToken)
    {
        var without = new BenchResult
        {
            Name = result.Name,
            Scenario = result.Scenario,
            Label = result.Label,
            Broker = result.Broker,
            StartedAt = DateTimeOffset.Now,
        };
        await ThroughputScenario.RunAsync(o, without, progress, cancellationToken, $"{o.TopicPrefix}/without-{when}");
        result.Problems.AddRange(without.Problems.Select(p => $"without idle sessions ({when}): {p}"));
        return without.Throughput!.DeliveredPerSecond;
    }

    /// <summary>One exact topic per idle session, matching neither the flow's topic nor each other.</summary>
    internal static string IdleTopic(string prefix, int index) => $"{prefix}/idle/{index}/state";

    internal static IdleCostFigures Figures(int sessions, double without, double with, double setupSeconds) => new()
    {
        Sessions = sessions,
        WithoutPerSecond = without,
        WithPerSecond = with,
        KeptPercent = without > 0 ? 100.0 * with / without : 0,
        SetupSeconds = setupSeconds,
    };
}
