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
}
