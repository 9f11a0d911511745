using System.Globalization;

namespace Cicada.Bench.Results;

/// <summary>A run as one Markdown table row, so runs can be pasted one under another.</summary>
internal static class MarkdownRow
{
    public const string Header =
        "| case | broker | published/s | delivered/s | lost | dup | p50 µs | p99 µs | p99.9 µs | max µs | connects/s | RSS B/conn | status |\n" +
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|";

    public static string Format(BenchResult r)
    {
        var t = r.Throughput;
        var l = r.Latency;
        string[] cells =
        [
            r.Name,
            r.Label,
            N(t?.PublishedPerSecond),
            N(t?.DeliveredPerSecond),
            N(t?.Lost),
            N(t?.Duplicates),
            D(l?.P50Us),
            D(l?.P99Us),
            D(l?.P999Us),
            D(l?.MaxUs),
            N(r.Connect?.ConnectsPerSecond),
            N(r.Idle?.RssPerConnectionBytes),
            Status(r),
        ];
        return "| " + string.Join(" | ", cells) + " |";
    }

    public static string Status(BenchResult r) =>
        r.Error is not null ? $"FAILED: {r.Error}" : r.Problems.Count > 0 ? "PROBLEM: " + string.Join("; ", r.Problems) : "ok";

    private static string N(double? value) => value is { } v ? v.ToString("N0", CultureInfo.InvariantCulture) : "–";

    private static string D(double? value) => value is { } v ? v.ToString(v < 100 ? "0.0" : "N0", CultureInfo.InvariantCulture) : "–";
}
