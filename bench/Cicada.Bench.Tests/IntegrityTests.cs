namespace Cicada.Bench.Tests;

/// <summary>The load generator must notice every way a broker can cheat or break.</summary>
public class IntegrityTests
{
    private static Task<Results.BenchResult> RunAsync(int port, params string[] args) =>
        BenchRunner.ExecuteAsync(BenchOptions.Parse([.. args, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--quiet"]), CancellationToken.None);

    [Theory]
    [InlineData("0")]
    [InlineData("1")]
    [InlineData("2")]
    public async Task A_broker_that_delivers_every_message_once_passes(string qos)
    {
        await using var broker = new FakeBroker();
        var result = await RunAsync(broker.Port, "--qos", qos, "--messages", "500", "--inflight", "10");
        Assert.Null(result.Error);
        Assert.True(result.Ok, string.Join("; ", result.Problems));
        var t = result.Throughput!;
        Assert.Equal(500, t.Published);
        Assert.Equal(qos == "0" ? 0 : 500, t.Acknowledged);
        Assert.Equal(500, t.Delivered);
        Assert.Equal(500, t.Unique);
        Assert.Equal(0, t.Lost);
    }

    [Fact]
    public async Task MQTT_4_3_2_an_acknowledged_QoS_1_message_that_never_arrives_is_a_loss()
    {
        await using var broker = new FakeBroker(copies: 0);
        var result = await RunAsync(broker.Port, "--qos", "1", "--messages", "50", "--drain-timeout", "2");
        Assert.False(result.Ok);
        Assert.True(result.Throughput is not null, $"the run ended without figures: {result.Error}");
        Assert.Equal(50, result.Throughput.Acknowledged);
        Assert.Equal(50, result.Throughput.Lost);
        Assert.Contains(result.Problems, p => p.Contains("50 of 50 acknowledged QoS 1 deliveries", StringComparison.Ordinal));
    }

    [Fact]
    public async Task QoS_0_loss_is_counted_but_allowed()
    {
        await using var broker = new FakeBroker(copies: 0);
        var result = await RunAsync(broker.Port, "--qos", "0", "--messages", "50", "--drain-timeout", "2");
        Assert.True(result.Ok);
        Assert.Equal(50, result.Throughput!.Lost);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("2")]
    public async Task MQTT_4_3_a_duplicate_at_QoS_0_or_2_is_a_problem(string qos)
    {
        await using var broker = new FakeBroker(copies: 2);
        var result = await RunAsync(broker.Port, "--qos", qos, "--messages", "100");
        Assert.False(result.Ok);
        Assert.Equal(100, result.Throughput!.Duplicates);
        Assert.Contains(result.Problems, p => p.Contains("100 duplicate deliveries", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_duplicate_at_QoS_1_is_counted_but_allowed()
    {
        await using var broker = new FakeBroker(copies: 2);
        var result = await RunAsync(broker.Port, "--qos", "1", "--messages", "100");
        Assert.True(result.Ok);
        Assert.Equal(100, result.Throughput!.Duplicates);
    }

    [Fact]
    public async Task MQTT_3_2_2_3_a_refused_connection_fails_the_run_with_the_reason()
    {
        await using var broker = new FakeBroker(connAckCode: 5);
        var result = await RunAsync(broker.Port, "--messages", "10");
        Assert.NotNull(result.Error);
        Assert.Contains("not authorized", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_broker_that_hangs_up_fails_the_run()
    {
        await using var broker = new FakeBroker(hangUpAfterConnAck: true);
        var result = await RunAsync(broker.Port, "--scenario", "connect", "--connections", "5");
        Assert.NotNull(result.Error);
        Assert.Contains("closed the connection", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fan_in_accounts_for_each_publisher_separately()
    {
        await using var broker = new FakeBroker();
        var result = await RunAsync(broker.Port, "--scenario", "fanin", "--publishers", "4", "--qos", "1", "--messages", "200");
        Assert.True(result.Ok, result.Error + string.Join("; ", result.Problems));
        Assert.Equal(800, result.Throughput!.Unique);
    }

    [Fact]
    public async Task Fan_out_expects_every_message_at_every_subscriber()
    {
        await using var broker = new FakeBroker();
        var result = await RunAsync(broker.Port, "--scenario", "fanout", "--subscribers", "3", "--messages", "100");
        Assert.True(result.Ok, result.Error + string.Join("; ", result.Problems));
        Assert.Equal(300, result.Throughput!.Expected);
        Assert.Equal(300, result.Throughput.Unique);
    }

    [Fact]
    public async Task Latency_runs_record_one_sample_per_message_after_warm_up()
    {
        await using var broker = new FakeBroker();
        var result = await RunAsync(broker.Port, "--scenario", "latency", "--rate", "2000", "--duration", "1", "--warmup", "0");
        Assert.True(result.Ok, result.Error + string.Join("; ", result.Problems));
        Assert.Equal(result.Throughput!.Unique, result.Latency!.Count);
        Assert.InRange(result.Throughput.Published, 1500, 2100);
        Assert.True(result.Latency.P50Us > 0);
    }

    [Fact]
    public async Task Idle_connections_are_held_and_the_named_process_RSS_is_sampled()
    {
        await using var broker = new FakeBroker();
        var result = await RunAsync(
            broker.Port, "--scenario", "idle", "--connections", "20", "--settle", "0.2",
            "--pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(result.Ok, result.Error);
        Assert.Equal(20, result.Idle!.Connections);
        Assert.True(result.Idle.RssBeforeKb > 0);
        Assert.True(result.Idle.RssAfterKb > 0);
        Assert.Equal((result.Idle.RssAfterKb - result.Idle.RssBeforeKb) * 1024.0 / 20, result.Idle.RssPerConnectionBytes);
    }

    [Fact]
    public async Task Idle_fails_when_the_named_process_does_not_exist()
    {
        await using var broker = new FakeBroker();
        var result = await RunAsync(broker.Port, "--scenario", "idle", "--connections", "1", "--pid", "999999999");
        Assert.NotNull(result.Error);
        Assert.Contains("/proc/999999999/status", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Idle_subscribers_run_the_flow_without_and_with_them_and_report_the_share_kept()
    {
        await using var broker = new FakeBroker();
        var result = await RunAsync(broker.Port, "--idle-subscribers", "25", "--messages", "300", "--concurrency", "10");
        Assert.True(result.Ok, result.Error + string.Join("; ", result.Problems));
        var cost = result.IdleCost!;
        Assert.Equal(25, cost.Sessions);
        Assert.True(cost.WithoutPerSecond > 0);
        Assert.Equal(result.Throughput!.DeliveredPerSecond, cost.WithPerSecond);
        Assert.Equal(100.0 * cost.WithPerSecond / cost.WithoutPerSecond, cost.KeptPercent, 9);
        // The second run is accounted on its own: exactly its messages, none of the first run's.
        Assert.Equal(300, result.Throughput.Unique);
        Assert.Equal(0, result.Throughput.Malformed);
    }

    [Fact]
    public async Task Idle_subscribers_fail_the_run_when_the_broker_refuses_a_subscription_session()
    {
        await using var broker = new FakeBroker(connAckCode: 3);
        var result = await RunAsync(broker.Port, "--idle-subscribers", "5", "--messages", "10");
        Assert.NotNull(result.Error);
        Assert.Null(result.IdleCost);
    }
}
