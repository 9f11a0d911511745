using System.Globalization;
using System.Text;

namespace Cicada.Bench.Results;

/// <summary>The side-by-side summary written by <c>cicada-bench report</c>.</summary>
internal sealed class Report
{
    public required DateTimeOffset Date { get; init; }
    public required string Baseline { get; init; }
    public required string Other { get; init; }
    public required Dictionary<string, string> Machine { get; init; }
    public List<ReportRow> Rows { get; init; } = [];
    public List<string> Notes { get; init; } = [];
}

internal sealed class ReportRow
{
    public required string Case { get; init; }
    public required string Metric { get; init; }
    public required bool HigherIsBetter { get; init; }
    public double? Baseline { get; set; }
    public double? Other { get; set; }

    /// <summary>Baseline median ÷ other median, whatever the metric's direction.</summary>
    public double? Ratio { get; set; }
    public List<double> BaselineRuns { get; init; } = [];
    public List<double> OtherRuns { get; init; } = [];

    /// <summary>Runs attempted, counting those left out of the median.</summary>
    public int BaselineAttempts { get; set; }
    public int OtherAttempts { get; set; }
}

/// <summary>
/// Groups result files by case, takes the median of each metric per broker and writes a
/// Markdown table and a JSON file. Runs that failed or broke an integrity rule are left out of
/// the medians and named in the notes, so a fast-but-wrong run can never look like a win.
/// </summary>
internal static class ReportCommand
{
    private sealed record Metric(string Name, bool HigherIsBetter, Func<BenchResult, double?> Read);

    public static int Run(IReadOnlyList<string> args)
    {
        string? dir = null, markdown = null, json = null, machineFile = null;
        string baseline = "cicada", other = "mosquitto";
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value");
            switch (name)
            {
                case "--results": dir = Next(); break;
                case "--markdown": markdown = Next(); break;
                case "--json": json = Next(); break;
                case "--machine": machineFile = Next(); break;
                case "--baseline": baseline = Next(); break;
                case "--other": other = Next(); break;
                default: throw new ArgumentException($"unknown option {name}");
            }
        }

        if (dir is null)
        {
            throw new ArgumentException("report needs --results DIR");
        }

        var results = Directory.EnumerateFiles(dir, "*.json")
            .Order(StringComparer.Ordinal)
            .Select(f => ResultJson.Deserialize<BenchResult>(File.ReadAllText(f)))
            .ToList();
        var report = Build(results, baseline, other, ReadMachine(machineFile));
        var text = ToMarkdown(report);
        Console.WriteLine(text);
        if (markdown is not null)
        {
            File.WriteAllText(markdown, text);
        }

        if (json is not null)
        {
            File.WriteAllText(json, ResultJson.Serialize(report));
        }

        return 0;
    }

    internal static Report Build(List<BenchResult> results, string baseline, string other, Dictionary<string, string> machine)
    {
        var report = new Report { Date = DateTimeOffset.Now, Baseline = baseline, Other = other, Machine = machine };
        // Cases keep the order in which they were first run.
        foreach (var group in results.OrderBy(r => r.StartedAt).GroupBy(r => r.Name))
        {
            var runs = group.ToList();
            foreach (var r in runs.Where(r => !r.Ok))
            {
                report.Notes.Add($"{r.Name} — {r.Label}, run at {r.StartedAt:HH:mm:ss}: {MarkdownRow.Status(r)}");
            }

            foreach (var r in runs.Where(r => r.Ok && r.Qos == 0 && r.Throughput is { Lost: > 0 }))
            {
                var t = r.Throughput!;
                var what = t.DrainTimedOut ? "still undelivered at the drain timeout" : "dropped";
                report.Notes.Add($"{r.Name} — {r.Label}, run at {r.StartedAt:HH:mm:ss}: {t.Lost:N0} of {t.Expected:N0} QoS 0 deliveries {what} ({100.0 * t.Lost / t.Expected:0.##} %)");
            }

            foreach (var metric in MetricsOf(runs[0]))
            {
                var row = new ReportRow { Case = group.Key, Metric = metric.Name, HigherIsBetter = metric.HigherIsBetter };
                row.BaselineRuns.AddRange(Values(runs, baseline, metric));
                // A case only the baseline ran (another storage, say) borrows the other broker's
                // runs of the case it names, so its ratio compares like with like.
                var otherRuns = runs.Any(r => r.Label == other) || runs[0].CompareTo is not { } reference
                    ? runs
                    : results.Where(r => r.Name == reference).ToList();
                row.OtherRuns.AddRange(Values(otherRuns, other, metric));
                row.BaselineAttempts = runs.Count(r => r.Label == baseline);
                row.OtherAttempts = otherRuns.Count(r => r.Label == other);
                row.Baseline = Median(row.BaselineRuns);
                row.Other = Median(row.OtherRuns);
                row.Ratio = row.Baseline is { } b && row.Other is { } o && o != 0 ? b / o : null;
                report.Rows.Add(row);
            }
        }

        return report;
    }

    private static IEnumerable<double> Values(List<BenchResult> runs, string label, Metric metric) =>
        runs.Where(r => r.Label == label && r.Ok).Select(metric.Read).OfType<double>();

    private static IEnumerable<Metric> MetricsOf(BenchResult r) => r.Scenario switch
    {
        "latency" =>
        [
            new("latency p50 µs", false, x => x.Latency?.P50Us),
            new("latency p99 µs", false, x => x.Latency?.P99Us),
            new("latency p99.9 µs", false, x => x.Latency?.P999Us),
        ],
        "connect" =>
        [
            new("connects/s", true, x => x.Connect?.ConnectsPerSecond),
            new("CONNACK p99 µs", false, x => x.Latency?.P99Us),
        ],
        "idle" => [new("RSS bytes/connection", false, x => x.Idle?.RssPerConnectionBytes)],
        // The cost of idle subscribed sessions is the share of the 1→1 rate they leave (target ≥ 90 %).
        _ when r.IdleCost is not null =>
        [
            new("delivered msgs/s with them", true, x => x.Throughput?.DeliveredPerSecond),
            new("dropped % with them", false, x => x.Throughput is { Expected: > 0 } t ? 100.0 * t.Lost / t.Expected : null),
            new("1→1 throughput kept % (with ÷ without)", true, x => x.IdleCost?.KeptPercent),
        ],
        // QoS 0 may drop, so its delivered rate is only half the story: the share dropped sits
        // beside it, or a broker that sheds most messages would look fast.
        _ when r.Qos == 0 =>
        [
            new("delivered msgs/s", true, x => x.Throughput?.DeliveredPerSecond),
            new("dropped %", false, x => x.Throughput is { Expected: > 0 } t ? 100.0 * t.Lost / t.Expected : null),
        ],
        _ => [new("delivered msgs/s", true, x => x.Throughput?.DeliveredPerSecond)],
    };

    internal static double? Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return null;
        }

        var sorted = values.Order().ToList();
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static Dictionary<string, string> ReadMachine(string? path)
    {
        var machine = new Dictionary<string, string>();
        if (path is null)
        {
            return machine;
        }

        foreach (var line in File.ReadAllLines(path))
        {
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                machine[line[..eq].Trim()] = line[(eq + 1)..].Trim();
            }
        }

        return machine;
    }

    internal static string ToMarkdown(Report report)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"# {report.Baseline} vs {report.Other}, side by side");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Run on {report.Date:yyyy-MM-dd HH:mm zzz}.");
        sb.AppendLine();
        foreach (var (key, value) in report.Machine)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"- **{key}**: {value}");
        }

        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"| scenario | metric | {report.Baseline} | {report.Other} | {report.Baseline}/{report.Other} |");
        sb.AppendLine("|---|---|---:|---:|---:|");
        foreach (var row in report.Rows)
        {
            var better = row.HigherIsBetter ? "higher is better" : "lower is better";
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Case} | {row.Metric} ({better}) | {Cell(row.Baseline, row.BaselineRuns.Count, row.BaselineAttempts)} | {Cell(row.Other, row.OtherRuns.Count, row.OtherAttempts)} | {(row.Ratio is { } r ? r.ToString("0.00", CultureInfo.InvariantCulture) : "–")} |");
        }

        sb.AppendLine();
        sb.AppendLine("Each cell is the median of the runs that completed with every integrity check holding (in brackets: runs counted / runs made, when some were left out).");
        if (report.Notes.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Notes:");
            sb.AppendLine();
            foreach (var note in report.Notes)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"- {note}");
            }
        }

        return sb.ToString();
    }

    private static string Cell(double? value, int counted, int attempts)
    {
        var text = value is { } v ? v.ToString(v < 100 ? "0.0" : "N0", CultureInfo.InvariantCulture) : attempts > 0 ? "FAILED" : "–";
        return counted < attempts ? $"{text} ({counted}/{attempts})" : text;
    }
}
