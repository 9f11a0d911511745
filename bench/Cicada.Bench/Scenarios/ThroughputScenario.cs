using System.Diagnostics;
using System.Text;
using Cicada.Bench.Mqtt;
using Cicada.Bench.Results;
using HdrHistogram;

namespace Cicada.Bench.Scenarios;

/// <summary>
/// pubsub (1→1), fanout (1→N), fanin (N→1) and latency (1→1, rate-limited): publishers send
/// as fast as the flow allows (or at <c>--rate</c>), subscribers account for every message.
/// </summary>
internal static class ThroughputScenario
{
    private const int ClientBufferSize = 64 * 1024;
    private static readonly TimeSpan SubscribeTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StallLimit = TimeSpan.FromSeconds(2);

    public static async Task RunAsync(BenchOptions o, BenchResult result, Progress progress, CancellationToken cancellationToken, string? topicPrefix = null)
    {
        var endPoint = o.ResolveEndPoint();
        var prefix = topicPrefix ?? o.TopicPrefix;
        var fanIn = o.Scenario == Scenario.FanIn;
        var filter = fanIn ? $"{prefix}/in/+" : $"{prefix}/t";
        var topics = Enumerable.Range(0, o.Publishers)
            .Select(i => Encoding.UTF8.GetBytes(fanIn ? $"{prefix}/in/{i}" : $"{prefix}/t"))
            .ToArray();
        var trackers = Enumerable.Range(0, o.Subscribers)
            .Select(_ => new DeliveryTracker(o.Publishers, o.PayloadSize, o.Rate is null ? null : NewLatencyHistogram()))
            .ToArray();

        MqttBenchClient[] subscribers = [];
        MqttBenchClient[] publishers = [];
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            subscribers = await Connector.ConnectManyAsync(
                endPoint, o.Subscribers, 's', i => trackers[i], ClientBufferSize, o.Concurrency, cancellationToken, cleanSession: !o.PersistentSubscribers);
            // SUBACK means the subscription is in place (§3.8.4), so nothing published afterwards can miss it.
            await Task.WhenAll(subscribers.Select(s => s.SubscribeAsync(filter, o.Qos, SubscribeTimeout)));
            publishers = await Connector.ConnectManyAsync(endPoint, o.Publishers, 'p', _ => null, ClientBufferSize, o.Concurrency, cancellationToken);
            if (o.Qos > 0)
            {
                foreach (var publisher in publishers)
                {
                    publisher.SetWindow(o.InFlight);
                }
            }

            progress.Line($"{o.Name}: {o.Publishers} publisher(s), {o.Subscribers} subscriber(s) connected to {endPoint}");
            var published = new long[o.Publishers];
            var start = Stopwatch.GetTimestamp();
            var end = o.Messages is null ? start + Seconds(o.DurationSeconds) : long.MaxValue;
            foreach (var tracker in trackers)
            {
                tracker.RecordLatencyAfter = start + Seconds(o.WarmupSeconds);
            }

            var loops = publishers
                .Select((p, i) => Task.Run(() => PublishLoopAsync(p, i, topics[i], o, end, published, abort.Token)))
                .ToArray();
            var all = Task.WhenAll(loops);
            var allClients = subscribers.Concat(publishers).ToArray();
            var meter = new RateMeter(start);
            while (!all.IsCompleted)
            {
                await Task.WhenAny(all, Task.Delay(1000, cancellationToken));
                Connector.ThrowIfAnyFaulted(allClients);
                meter.Report(progress, published.Sum(), trackers.Sum(t => t.Received), publishers.Sum(p => p.InFlight));
            }

            var publishEnd = (await all).Max();
            var expected = published.Sum() * o.Subscribers;
            var timedOut = await DrainAsync(trackers, allClients, expected, o, progress, meter, published);

            var figures = Summarize(o, trackers, published, publishers, start, publishEnd, result, timedOut);
            result.Throughput = figures;
            if (o.Rate is not null)
            {
                var merged = NewLatencyHistogram();
                foreach (var tracker in trackers)
                {
                    merged.Add(tracker.Latency!);
                }

                result.Latency = Figures.FromHistogram(merged);
            }
        }
        finally
        {
            await abort.CancelAsync();
            await Connector.DisconnectAllAsync(publishers.Concat(subscribers));
        }
    }

    private static async Task<long> PublishLoopAsync(
        MqttBenchClient client, int index, byte[] topic, BenchOptions o, long end, long[] published, CancellationToken abort)
    {
        var payload = Payload.Create(o.PayloadSize);
        var limit = Math.Min(o.Messages ?? long.MaxValue, Payload.MaxSequence);
        var perSecond = o.Rate / o.Publishers;
        var start = Stopwatch.GetTimestamp();
        uint sequence = 0;
        while (sequence < limit && !abort.IsCancellationRequested)
        {
            var now = Stopwatch.GetTimestamp();
            if (now >= end)
            {
                break;
            }

            if (perSecond is { } rate && sequence >= (long)((now - start) * rate / Stopwatch.Frequency) + 1)
            {
                // Ahead of schedule: ship what is buffered and sleep one timer tick (≈1 ms), so
                // messages leave in 1 ms batches; each carries its own send time, so the
                // batching does not show up as latency.
                client.Flush();
                await Task.Delay(1, CancellationToken.None);
                continue;
            }

            Payload.Stamp(payload, index, sequence, now);
            await client.PublishAsync(topic, o.Qos, payload);
            sequence++;
            Volatile.Write(ref published[index], sequence);
        }

        await client.WaitForAcknowledgementsAsync(TimeSpan.FromSeconds(o.DrainTimeoutSeconds));
        return Stopwatch.GetTimestamp();
    }

    /// <summary>
    /// Waits for late deliveries until all arrived, they stall, or the drain timeout passes;
    /// returns true for the timeout, when what is missing may be late rather than lost.
    /// </summary>
    private static async Task<bool> DrainAsync(
        DeliveryTracker[] trackers, MqttBenchClient[] clients, long expected, BenchOptions o, Progress progress, RateMeter meter, long[] published)
    {
        var deadline = Stopwatch.GetTimestamp() + Seconds(o.DrainTimeoutSeconds);
        var lastCount = -1L;
        var lastChange = Stopwatch.GetTimestamp();
        var lastReport = Stopwatch.GetTimestamp();
        while (true)
        {
            Connector.ThrowIfAnyFaulted(clients);
            var unique = trackers.Sum(t => t.Unique);
            var received = trackers.Sum(t => t.Received);
            var now = Stopwatch.GetTimestamp();
            if (unique >= expected)
            {
                return false;
            }

            if (received != lastCount)
            {
                lastCount = received;
                lastChange = now;
            }
            else if (now - lastChange > Seconds(StallLimit.TotalSeconds))
            {
                progress.Line($"deliveries stalled at {unique:N0} of {expected:N0}");
                return false;
            }

            if (now > deadline)
            {
                progress.Line($"drain timeout: {unique:N0} of {expected:N0} delivered after {o.DrainTimeoutSeconds:0.#} s");
                return true;
            }

            if (now - lastReport >= Stopwatch.Frequency)
            {
                lastReport = now;
                meter.Report(progress, published.Sum(), received, 0);
            }

            await Task.Delay(20);
        }
    }

    private static ThroughputFigures Summarize(
        BenchOptions o, DeliveryTracker[] trackers, long[] published, MqttBenchClient[] publishers, long start, long publishEnd, BenchResult result, bool drainTimedOut)
    {
        long unexpected = 0;
        foreach (var tracker in trackers)
        {
            for (var p = 0; p < o.Publishers; p++)
            {
                unexpected += tracker.UnexpectedFrom(p, published[p]);
            }
        }

        var f = new ThroughputFigures
        {
            Published = published.Sum(),
            Acknowledged = publishers.Sum(p => p.Acknowledged),
            Delivered = trackers.Sum(t => t.Received),
            Unique = trackers.Sum(t => t.Unique) - unexpected,
            Duplicates = trackers.Sum(t => t.Duplicates),
            OutOfOrder = trackers.Sum(t => t.OutOfOrder),
            Malformed = trackers.Sum(t => t.Malformed) + unexpected,
            TargetRate = o.Rate,
            DrainTimedOut = drainTimedOut,
        };
        f.Expected = f.Published * o.Subscribers;
        f.Lost = f.Expected - f.Unique;
        var lastDelivery = trackers.Max(t => t.LastTimestamp);
        f.PublishSeconds = (publishEnd - start) / (double)Stopwatch.Frequency;
        f.DeliverySeconds = lastDelivery == 0 ? 0 : (lastDelivery - start) / (double)Stopwatch.Frequency;
        f.PublishedPerSecond = f.PublishSeconds > 0 ? f.Published / f.PublishSeconds : 0;
        f.DeliveredPerSecond = f.DeliverySeconds > 0 ? f.Delivered / f.DeliverySeconds : 0;

        // What each QoS promises (MQTT 3.1.1 §4.3, §4.6) decides what counts as a problem.
        if (o.Qos > 0 && f.Acknowledged != f.Published)
        {
            result.Problems.Add($"{f.Published - f.Acknowledged:N0} publishes never acknowledged");
        }

        if (o.Qos > 0 && f.Lost > 0)
        {
            result.Problems.Add(drainTimedOut
                ? $"{f.Lost:N0} of {f.Expected:N0} acknowledged QoS {o.Qos} deliveries still missing after the {o.DrainTimeoutSeconds:0.#} s drain timeout"
                : $"{f.Lost:N0} of {f.Expected:N0} acknowledged QoS {o.Qos} deliveries lost");
        }

        if (o.Qos != 1 && f.Duplicates > 0)
        {
            result.Problems.Add($"{f.Duplicates:N0} duplicate deliveries at QoS {o.Qos}");
        }

        if (f.OutOfOrder > 0)
        {
            result.Problems.Add($"{f.OutOfOrder:N0} deliveries out of order (§4.6)");
        }

        if (f.Malformed > 0)
        {
            result.Problems.Add($"{f.Malformed:N0} deliveries with an altered or unknown payload");
        }

        return f;
    }

    internal static LongHistogram NewLatencyHistogram() =>
        new(TimeSpan.FromMinutes(1).Ticks * 100, 3); // nanoseconds, up to one minute

    private static long Seconds(double seconds) => (long)(seconds * Stopwatch.Frequency);
}
