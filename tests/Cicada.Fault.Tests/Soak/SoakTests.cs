using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cicada.Fault.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Cicada.Fault.Tests.Soak;

/// <summary>
/// The soak (<c>scripts/soak</c>; skipped unless <c>CICADA_SOAK_MINUTES</c> is set, so not in CI):
/// the real broker on SQLite under mixed MQTT/AMQP/CoAP/HTTP load with connection churn for N
/// minutes, sampling RSS, GC pause time and message counts every few seconds. Fails when any
/// acknowledged message is missing from a durable consumer, or when RSS keeps growing after the
/// warm-up. Writes <c>soak.csv</c> (the samples) and <c>soak.md</c> (the table) to
/// <c>CICADA_SOAK_OUT</c>.
/// </summary>
public sealed class SoakTests(ITestOutputHelper output)
{
    private static readonly TimeSpan SampleEvery = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(120);

    private sealed record Sample(double Seconds, double RssMiB, double HeapMiB, double GcPauseMs, long Acknowledged, long MqttReceived,
        long AmqpReceived, long Noise, double Connections);

    [SkippableFact]
    public async Task Soak_mixed_protocols_loses_no_acknowledged_message_and_keeps_RSS_bounded()
    {
        var minutesText = Environment.GetEnvironmentVariable("CICADA_SOAK_MINUTES");
        Skip.If(string.IsNullOrEmpty(minutesText), "a soak runs only from scripts/soak (CICADA_SOAK_MINUTES)");
        var duration = TimeSpan.FromMinutes(double.Parse(minutesText, CultureInfo.InvariantCulture));
        var outDirectory = Environment.GetEnvironmentVariable("CICADA_SOAK_OUT") is { Length: > 0 } o ? o : Directory.CreateTempSubdirectory("cicada-soak-").FullName;
        Directory.CreateDirectory(outDirectory);

        await using var server = await CicadaProcess.StartAsync(new ServerSettings { Http = true, Amqp = true, Coap = true });
        var load = new SoakLoad(server, Guid.NewGuid().ToString("N")[..8]);
        await load.PrepareAsync();

        using var publishers = new CancellationTokenSource(duration);
        using var consumers = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        var tasks = load.Start(publishers.Token, consumers.Token);
        var samples = new List<Sample>();
        while (!publishers.IsCancellationRequested)
        {
            await Task.Delay(SampleEvery, publishers.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            samples.Add(await SampleAsync(server, load, clock.Elapsed));
            output.WriteLine(Row(samples[^1]));
            Assert.False(server.HasExited, $"The broker died during the soak.\n{server.Output}");
        }

        // Publishers have stopped; consumers keep going until every acknowledged message is in.
        var drain = Stopwatch.StartNew();
        while ((load.Missing(load.MqttSession).Count > 0 || load.Missing(load.AmqpQueue).Count > 0) && drain.Elapsed < DrainLimit)
        {
            await Task.Delay(1000);
        }

        samples.Add(await SampleAsync(server, load, clock.Elapsed));
        await consumers.CancelAsync();
        await Task.WhenAll(tasks);

        var missingMqtt = load.Missing(load.MqttSession);
        var missingAmqp = load.Missing(load.AmqpQueue);
        var report = Report(load, samples, duration, drain.Elapsed, missingMqtt.Count, missingAmqp.Count, out var rssVerdict);
        await File.WriteAllTextAsync(Path.Combine(outDirectory, "soak.md"), report);
        await File.WriteAllTextAsync(Path.Combine(outDirectory, "soak.csv"),
            "seconds,rss_mib,heap_mib,gc_pause_ms,acknowledged,mqtt_received,amqp_received,noise_received,connections\n" +
            string.Join("\n", samples.Select(s => string.Create(CultureInfo.InvariantCulture,
                $"{s.Seconds:F0},{s.RssMiB:F1},{s.HeapMiB:F1},{s.GcPauseMs:F1},{s.Acknowledged},{s.MqttReceived},{s.AmqpReceived},{s.Noise},{s.Connections}"))) + "\n");
        output.WriteLine(report);

        Assert.True(missingMqtt.Count == 0, $"{missingMqtt.Count} acknowledged messages never reached the persistent MQTT session: {string.Join(", ", missingMqtt.Take(20))}");
        Assert.True(missingAmqp.Count == 0, $"{missingAmqp.Count} acknowledged messages never reached the durable AMQP queue: {string.Join(", ", missingAmqp.Take(20))}");
        Assert.True(rssVerdict is null, rssVerdict);
    }

    private static async Task<Sample> SampleAsync(CicadaProcess server, SoakLoad load, TimeSpan elapsed)
    {
        const double MiB = 1024 * 1024;
        return new Sample(elapsed.TotalSeconds, server.ResidentBytes() / MiB,
            await server.MetricAsync("dotnet_gc_last_collection_heap_size_bytes") / MiB,
            await server.MetricAsync("dotnet_gc_pause_time_seconds_total") * 1000,
            load.Ledgers.Sum(l => (long)l.Acknowledged.Count), load.MqttSession.Received.Count, load.AmqpQueue.Received.Count,
            Interlocked.Read(ref load.NoiseReceived), await server.MetricAsync("cicada_connections"));
    }

    private static string Row(Sample s) => string.Create(CultureInfo.InvariantCulture,
        $"| {s.Seconds,6:F0} | {s.RssMiB,7:F1} | {s.HeapMiB,7:F1} | {s.GcPauseMs,8:F1} | {s.Acknowledged,9} | {s.MqttReceived,9} | {s.AmqpReceived,9} | {s.Noise,9} | {s.Connections,5} |");

    /// <summary>
    /// The table, and the RSS verdict: after the first fifth (JIT, pools, SQLite page cache warming
    /// up) the peak of the last third may exceed the peak of the middle third by at most 10 % + 16 MiB.
    /// A bounded broker plateaus; one that leaks per message keeps climbing at a steady rate.
    /// </summary>
    private static string Report(SoakLoad load, List<Sample> samples, TimeSpan duration, TimeSpan drain, int missingMqtt, int missingAmqp, out string? rssVerdict)
    {
        var steady = samples.Skip(samples.Count / 5).ToList();
        var third = Math.Max(1, steady.Count / 3);
        var middlePeak = steady.Skip(third).Take(third).Select(s => s.RssMiB).DefaultIfEmpty(0).Max();
        var lastPeak = steady.Skip(steady.Count - third).Select(s => s.RssMiB).DefaultIfEmpty(0).Max();
        var bound = middlePeak * 1.10 + 16;
        rssVerdict = steady.Count >= 6 && lastPeak > bound
            ? string.Create(CultureInfo.InvariantCulture, $"RSS kept growing: peak {lastPeak:F1} MiB in the last third > {bound:F1} MiB (middle third's peak {middlePeak:F1} MiB + 10 % + 16 MiB)")
            : null;

        var text = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        text.AppendLine(inv, $"# Cicada soak: {duration.TotalMinutes:F1} min, SQLite store, MQTT 3.1.1/5 + AMQP 0-9-1 + CoAP + HTTP with connection churn every 20 s");
        text.AppendLine();
        text.AppendLine("| protocol | sent | acknowledged | refused | missing in MQTT session | missing in AMQP queue |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var ledger in load.Ledgers)
        {
            var ids = ledger.Acknowledged.Keys;
            text.AppendLine(inv, $"| {ledger.Protocol} | {ledger.Sent} | {ledger.Acknowledged.Count} | {ledger.Refused} | " +
                $"{ids.Count(id => !load.MqttSession.Received.ContainsKey(id))} | {ids.Count(id => !load.AmqpQueue.Received.ContainsKey(id))} |");
        }

        var acknowledged = load.Ledgers.Sum(l => (long)l.Acknowledged.Count);
        text.AppendLine();
        text.AppendLine(inv, $"- durable consumers: MQTT session {load.MqttSession.Received.Count} distinct of {load.MqttSession.Deliveries} deliveries, " +
            $"AMQP queue {load.AmqpQueue.Received.Count} distinct of {load.AmqpQueue.Deliveries}; **lost {missingMqtt} / {missingAmqp}** of {acknowledged} acknowledged; drained in {drain.TotalSeconds:F0} s after publishing stopped");
        text.AppendLine(inv, $"- QoS 0 noise: {Interlocked.Read(ref load.NoiseSent)} sent, {Interlocked.Read(ref load.NoiseReceived)} received; client reconnects after errors: {Interlocked.Read(ref load.Reconnects)}");
        text.AppendLine(inv, $"- RSS: first sample {samples[0].RssMiB:F1} MiB, peak {samples.Max(s => s.RssMiB):F1} MiB, last {samples[^1].RssMiB:F1} MiB; " +
            $"middle-third peak {middlePeak:F1} MiB, last-third peak {lastPeak:F1} MiB → {(rssVerdict is null ? "bounded" : "GROWING")}");
        text.AppendLine(inv, $"- GC: {samples[^1].GcPauseMs:F0} ms paused in all over {samples[^1].Seconds:F0} s ({samples[^1].GcPauseMs / samples[^1].Seconds / 10:F2} %)");
        text.AppendLine();
        text.AppendLine("|      s | RSS MiB | heap MiB | GC pause ms | acked | MQTT rcvd | AMQP rcvd | QoS 0 rcvd | conns |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var sample in samples)
        {
            text.AppendLine(Row(sample));
        }

        return text.ToString();
    }
}
