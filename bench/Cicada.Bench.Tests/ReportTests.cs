using Cicada.Bench.Results;

namespace Cicada.Bench.Tests;

public class ReportTests
{
    private static BenchResult Run(string label, double delivered, bool ok = true, long lost = 0, int minute = 0) => new()
    {
        Name = "1→1 QoS 0",
        Scenario = "pubsub",
        Label = label,
        Broker = "127.0.0.1:1",
        StartedAt = new DateTimeOffset(2026, 1, 1, 0, minute, 0, TimeSpan.Zero),
        Qos = 0,
        Ok = ok,
        Error = ok ? null : "disconnected",
        Throughput = new ThroughputFigures { DeliveredPerSecond = delivered, Expected = 100, Lost = lost },
    };

    [Theory]
    [InlineData(new double[] { 5 }, 5)]
    [InlineData(new double[] { 9, 1, 5 }, 5)]
    [InlineData(new double[] { 4, 1, 3, 2 }, 2.5)]
    public void Median_is_the_middle_value_or_the_mean_of_the_two_middle_ones(double[] values, double expected) =>
        Assert.Equal(expected, ReportCommand.Median([.. values]));

    [Fact]
    public void Ratio_is_baseline_median_over_other_median()
    {
        List<BenchResult> runs = [Run("a", 300), Run("b", 100), Run("a", 200), Run("b", 50), Run("a", 400), Run("b", 150)];
        var row = ReportCommand.Build(runs, "a", "b", []).Rows.Single(r => r.Metric == "delivered msgs/s");
        Assert.Equal(300, row.Baseline);
        Assert.Equal(100, row.Other);
        Assert.Equal(3.0, row.Ratio);
    }

    [Fact]
    public void A_failed_run_is_left_out_of_the_median_and_named_in_the_notes()
    {
        List<BenchResult> runs = [Run("a", 100), Run("a", 1_000_000, ok: false), Run("b", 100)];
        var report = ReportCommand.Build(runs, "a", "b", []);
        var row = report.Rows.Single(r => r.Metric == "delivered msgs/s");
        Assert.Equal(100, row.Baseline);
        Assert.Equal(2, row.BaselineAttempts);
        Assert.Single(row.BaselineRuns);
        Assert.Contains(report.Notes, n => n.Contains("disconnected", StringComparison.Ordinal));
        Assert.Contains("100 (1/2)", ReportCommand.ToMarkdown(report), StringComparison.Ordinal);
    }

    [Fact]
    public void QoS_0_drops_appear_beside_the_delivered_rate()
    {
        List<BenchResult> runs = [Run("a", 1000, lost: 25), Run("b", 100)];
        var report = ReportCommand.Build(runs, "a", "b", []);
        var dropped = report.Rows.Single(r => r.Metric == "dropped %");
        Assert.Equal(25, dropped.Baseline);
        Assert.Equal(0, dropped.Other);
        Assert.Contains(report.Notes, n => n.Contains("25 of 100 QoS 0 deliveries dropped", StringComparison.Ordinal));
    }

    [Fact]
    public void A_result_file_round_trips_and_keeps_its_text_readable()
    {
        var original = Run("a", 1234.5, lost: 7);
        original.Problems.Add("something");
        var json = ResultJson.Serialize(original);
        Assert.Contains("1→1 QoS 0", json, StringComparison.Ordinal);
        var back = ResultJson.Deserialize<BenchResult>(json);
        Assert.Equal(original.Name, back.Name);
        Assert.Equal(1234.5, back.Throughput!.DeliveredPerSecond);
        Assert.Equal(7, back.Throughput.Lost);
        Assert.Equal(["something"], back.Problems);
        Assert.Null(back.Latency);
    }

    [Fact]
    public void A_case_only_the_baseline_ran_is_compared_with_the_other_brokers_runs_of_the_case_it_names()
    {
        static BenchResult Qos1(string name, string label, double delivered, string? compareTo = null) => new()
        {
            Name = name,
            Scenario = "pubsub",
            Label = label,
            Broker = "127.0.0.1:1",
            StartedAt = DateTimeOffset.UnixEpoch,
            Qos = 1,
            Ok = true,
            CompareTo = compareTo,
            Throughput = new ThroughputFigures { DeliveredPerSecond = delivered, Expected = 10 },
        };

        List<BenchResult> runs =
        [
            Qos1("QoS 1", "a", 400), Qos1("QoS 1", "b", 100), Qos1("QoS 1", "b", 300),
            Qos1("QoS 1 SQLite", "a", 50, compareTo: "QoS 1"),
        ];
        var report = ReportCommand.Build(runs, "a", "b", []);
        var sqlite = report.Rows.Single(r => r.Case == "QoS 1 SQLite");
        Assert.Equal(50, sqlite.Baseline);
        Assert.Equal(200, sqlite.Other);
        Assert.Equal(0.25, sqlite.Ratio);
        Assert.Equal(2, sqlite.OtherAttempts);
        // The borrowed runs stay in their own row too.
        Assert.Equal(200, report.Rows.Single(r => r.Case == "QoS 1").Other);
    }

    [Fact]
    public void Idle_subscriber_runs_report_the_share_of_throughput_kept()
    {
        BenchResult Kept(string label, double without, double with) => new()
        {
            Name = "idle subs",
            Scenario = "pubsub",
            Label = label,
            Broker = "127.0.0.1:1",
            StartedAt = DateTimeOffset.UnixEpoch,
            Qos = 0,
            Ok = true,
            Throughput = new ThroughputFigures { DeliveredPerSecond = with, Expected = 10 },
            IdleCost = Scenarios.IdleCostScenario.Figures(10_000, without, with, 1),
        };

        List<BenchResult> runs = [Kept("a", 1000, 950), Kept("a", 1000, 900), Kept("a", 1000, 990), Kept("b", 200, 100)];
        var report = ReportCommand.Build(runs, "a", "b", []);
        var kept = report.Rows.Single(r => r.Metric.StartsWith("1→1 throughput kept", StringComparison.Ordinal));
        Assert.True(kept.HigherIsBetter);
        Assert.Equal(95, kept.Baseline!.Value, 9);
        Assert.Equal(50, kept.Other!.Value, 9);
        Assert.Equal(950, report.Rows.Single(r => r.Metric == "delivered msgs/s with them").Baseline);
        var json = ResultJson.Serialize(runs[0]);
        Assert.Equal(95, ResultJson.Deserialize<BenchResult>(json).IdleCost!.KeptPercent, 9);
    }
}
