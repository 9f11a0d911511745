namespace Cicada.Bench.Tests;

public class OptionsTests
{
    [Fact]
    public void Fan_in_defaults_to_the_issue_target_of_20_publishers()
    {
        var o = BenchOptions.Parse(["--scenario", "fanin"]);
        Assert.Equal(20, o.Publishers);
        Assert.Equal(1, o.Subscribers);
        Assert.Equal(100, BenchOptions.Parse(["--scenario", "fanin", "--publishers", "100"]).Publishers);
    }

    [Fact]
    public void Idle_subscribers_name_the_case_and_apply_to_pubsub_only()
    {
        var o = BenchOptions.Parse(["--idle-subscribers", "10000"]);
        Assert.Equal(10_000, o.IdleSubscribers);
        Assert.Contains("10000 idle subscribed sessions", o.Name, StringComparison.Ordinal);
        Assert.Equal(0, BenchOptions.Parse([]).IdleSubscribers);
        var e = Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["--scenario", "fanout", "--idle-subscribers", "5"]));
        Assert.Contains("pubsub only", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("many")]
    public void Idle_subscribers_must_be_a_non_negative_integer(string value) =>
        Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["--idle-subscribers", value]));

    [Fact]
    public void Compare_to_is_carried_into_the_options() =>
        Assert.Equal("1→1 QoS 1", BenchOptions.Parse(["--compare-to", "1→1 QoS 1"]).CompareTo);

    [Fact]
    public void Idle_topics_are_exact_distinct_and_outside_the_flow_topic()
    {
        var a = Scenarios.IdleCostScenario.IdleTopic("bench/x", 1);
        var b = Scenarios.IdleCostScenario.IdleTopic("bench/x", 2);
        Assert.NotEqual(a, b);
        Assert.DoesNotContain('+', a);
        Assert.DoesNotContain('#', a);
        Assert.Equal("bench/x/idle/1/state", a);
    }

    [Fact]
    public void Persistent_subscribers_are_off_unless_asked_for()
    {
        Assert.False(BenchOptions.Parse([]).PersistentSubscribers);
        Assert.True(BenchOptions.Parse(["--qos", "1", "--persistent-subscribers"]).PersistentSubscribers);
    }
}
