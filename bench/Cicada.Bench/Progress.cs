using System.Diagnostics;
using Cicada.Bench.Results;
using HdrHistogram;

namespace Cicada.Bench;

/// <summary>Progress lines go to stderr, so stdout carries only the result.</summary>
internal sealed class Progress(bool quiet)
{
    public void Line(string text)
    {
        if (!quiet)
        {
            Console.Error.WriteLine(text);
        }
    }
}

/// <summary>Once-a-second progress: totals and the rate over the last interval.</summary>
internal sealed class RateMeter(long started)
{
    private readonly long _start = started;
    private long _lastTime = started;
    private long _lastPublished;
    private long _lastDelivered;

    public void Report(Progress progress, long published, long delivered, int inFlight)
    {
        var now = Stopwatch.GetTimestamp();
        var seconds = (now - _lastTime) / (double)Stopwatch.Frequency;
        if (seconds < 0.5)
        {
            return;
        }

        var elapsed = (now - _start) / (double)Stopwatch.Frequency;
        progress.Line(
            $"[{elapsed,5:0.0}s] published {published,13:N0} ({(published - _lastPublished) / seconds,11:N0}/s)  " +
            $"delivered {delivered,13:N0} ({(delivered - _lastDelivered) / seconds,11:N0}/s)  in flight {inFlight:N0}");
        _lastTime = now;
        _lastPublished = published;
        _lastDelivered = delivered;
    }
}

internal static class Figures
{
    /// <summary>Percentiles of a histogram recorded in nanoseconds, in microseconds.</summary>
    public static LatencyFigures FromHistogram(LongHistogram histogram) => histogram.TotalCount == 0
        ? new LatencyFigures()
        : new LatencyFigures
        {
            Count = histogram.TotalCount,
            P50Us = histogram.GetValueAtPercentile(50) / 1000.0,
            P99Us = histogram.GetValueAtPercentile(99) / 1000.0,
            P999Us = histogram.GetValueAtPercentile(99.9) / 1000.0,
            MaxUs = histogram.GetMaxValue() / 1000.0,
            MeanUs = histogram.GetMean() / 1000.0,
        };
}
