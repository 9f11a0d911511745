using System.Globalization;
using Cicada.Core.Topics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cicada.Core.Tests;

/// <summary>The <c>$SYS/broker/</c> tree (mosquitto's names, retained, QoS 0, republished on change).</summary>
public class SysTopicsTests
{
    /// <summary>A clock the test moves by hand.</summary>
    private sealed class ManualTime : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }

    private static SysTopics Sys(TestBroker t, TimeProvider time) =>
        new(t.Broker, Options.Create(new SysOptions()), time, NullLogger<SysTopics>.Instance);

    private static Dictionary<string, string> Received(Sessions.ClientLink watcher)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (delivery, _) in watcher.Session.Drain())
            values[delivery.Message.Topic] = delivery.Text();
        return values;
    }

    private static string Retained(TestBroker t, string topic) =>
        t.Broker.Retained.Get(topic) is { } message ? System.Text.Encoding.UTF8.GetString(message.Payload.Span) : "(none)";

    [Fact]
    public async Task Update_publishes_mosquitto_names_with_the_broker_counts()
    {
        using var t = await TestBroker.StartAsync();
        var time = new ManualTime();
        var sys = Sys(t, time);
        var watcher = await t.SubscribeAsync("watcher", "$SYS/#", QoS.AtMostOnce);
        await t.SubscribeAsync("other", "a/#", QoS.AtLeastOnce);
        var persistent = t.Connect("gone", cleanSession: false).Link;
        t.Broker.Disconnect(persistent, publishWill: false);
        await t.PublishAsync("a/1", "x", retain: true);
        await t.PublishAsync("a/2", "y");
        time.Advance(TimeSpan.FromSeconds(42));

        sys.Update();

        var values = Received(watcher);
        Assert.Equal(SysTopics.VersionText, values["$SYS/broker/version"]);
        Assert.StartsWith("cicada version ", values["$SYS/broker/version"], StringComparison.Ordinal);
        Assert.Equal("42 seconds", values["$SYS/broker/uptime"]);
        Assert.Equal("2", values["$SYS/broker/clients/connected"]);
        Assert.Equal("1", values["$SYS/broker/clients/disconnected"]);
        Assert.Equal("3", values["$SYS/broker/clients/total"]);
        Assert.Equal("2", values["$SYS/broker/messages/received"]);
        Assert.Equal("2", values["$SYS/broker/subscriptions/count"]);
        Assert.Equal("0", values["$SYS/broker/messages/dropped"]);

        // a/1 and the whole $SYS tree, its own count included.
        Assert.Equal(t.Broker.Retained.Count.ToString(CultureInfo.InvariantCulture), values["$SYS/broker/retained messages/count"]);
        Assert.Equal(values.Count + 1, t.Broker.Retained.Count);
        Assert.Equal("2", values["$SYS/broker/protocols/test/clients/connected"]);
    }

    [Fact]
    public async Task The_brokers_own_subscribers_are_not_counted_as_clients()
    {
        using var t = await TestBroker.StartAsync();
        var own = t.Broker.Connect("$internal:watcher", cleanStart: true, persistent: false, new FakeConnection(), null,
            Broker.InternalProtocol, remote: null).Link;
        await t.Broker.SubscribeAsync(own, "a/#", new SubscriptionOptions(QoS.AtMostOnce));
        await t.SubscribeAsync("client", "b/#", QoS.AtMostOnce);

        Sys(t, new ManualTime()).Update();

        Assert.Equal("1", Retained(t, "$SYS/broker/clients/connected"));
        Assert.Equal("1", Retained(t, "$SYS/broker/clients/total"));
        Assert.Equal("1", Retained(t, "$SYS/broker/subscriptions/count"));
        Assert.Equal("(none)", Retained(t, "$SYS/broker/protocols/internal/clients/connected"));
    }

    [Fact]
    public async Task Sys_messages_are_retained_in_memory_but_neither_stored_nor_counted_as_received()
    {
        using var t = await TestBroker.StartAsync();
        var sys = Sys(t, new ManualTime());

        sys.Update();
        sys.Update();

        Assert.Equal("0", Retained(t, "$SYS/broker/messages/received"));
        Assert.Equal(0, t.Broker.Metrics.TotalMessagesReceived);
        Assert.Empty(await t.Store.LoadRetainedAsync(CancellationToken.None));

        // A subscriber arriving later gets the tree as retained messages (MQTT-3.3.1-6).
        var late = t.Connect("late", cleanSession: true).Link;
        var options = new SubscriptionOptions(QoS.AtMostOnce);
        await t.Broker.SubscribeAsync(late, "$SYS/broker/uptime", options);
        t.Broker.DeliverRetained(late, "$SYS/broker/uptime", options);
        var (delivery, _) = Assert.Single(late.Session.Drain());
        Assert.True(delivery.Retain);
        Assert.Equal("0 seconds", delivery.Text());
    }

    [Fact]
    public async Task MQTT_4_7_2_1_a_leading_wildcard_does_not_receive_SYS_topics()
    {
        using var t = await TestBroker.StartAsync();
        var everything = await t.SubscribeAsync("everything", "#", QoS.AtMostOnce);
        var plus = await t.SubscribeAsync("plus", "+/broker/uptime", QoS.AtMostOnce);

        Sys(t, new ManualTime()).Update();

        Assert.Empty(everything.Session.Drain());
        Assert.Empty(plus.Session.Drain());
    }

    [Fact]
    public async Task Only_changed_values_are_republished()
    {
        using var t = await TestBroker.StartAsync();
        var time = new ManualTime();
        var sys = Sys(t, time);
        var watcher = await t.SubscribeAsync("watcher", "$SYS/#", QoS.AtMostOnce);
        sys.Update();
        Received(watcher);

        time.Advance(TimeSpan.FromSeconds(10));
        sys.Update();
        Assert.Equal(["$SYS/broker/uptime"], Received(watcher).Keys);

        var newcomer = t.Connect("newcomer", cleanSession: true).Link;
        time.Advance(TimeSpan.FromSeconds(10));
        sys.Update();
        var changed = Received(watcher);
        Assert.Equal("2", changed["$SYS/broker/clients/connected"]);
        Assert.DoesNotContain("$SYS/broker/version", changed.Keys);

        // Its protocol's count falls back to 0 rather than disappearing.
        t.Broker.Disconnect(newcomer, publishWill: false);
        t.Broker.Disconnect(watcher, publishWill: false);
        time.Advance(TimeSpan.FromSeconds(10));
        sys.Update();
        Assert.Equal("0", Retained(t, "$SYS/broker/protocols/test/clients/connected"));
    }

    [Fact]
    public async Task Load_is_an_exponential_moving_average_of_the_per_minute_rate()
    {
        using var t = await TestBroker.StartAsync();
        var time = new ManualTime();
        var sys = Sys(t, time);
        sys.Update();

        // 60 messages in one minute: a steady rate of 60/min seen for one minute gives
        // 60 * (1 - e^-1) on the 1-minute average and 60 * (1 - e^-1/5) on the 5-minute one.
        for (var i = 0; i < 60; i++)
            await t.PublishAsync("load/x", "m");
        time.Advance(TimeSpan.FromSeconds(60));
        sys.Update();

        Assert.Equal((60 * (1 - Math.Exp(-1))).ToString("0.00", CultureInfo.InvariantCulture),
            Retained(t, "$SYS/broker/load/messages/received/1min"));
        Assert.Equal((60 * (1 - Math.Exp(-1.0 / 5))).ToString("0.00", CultureInfo.InvariantCulture),
            Retained(t, "$SYS/broker/load/messages/received/5min"));
        Assert.Equal((60 * (1 - Math.Exp(-1.0 / 15))).ToString("0.00", CultureInfo.InvariantCulture),
            Retained(t, "$SYS/broker/load/messages/received/15min"));

        // Nothing for the next minute: the averages decay by the same factor.
        time.Advance(TimeSpan.FromSeconds(60));
        sys.Update();
        Assert.Equal((60 * (1 - Math.Exp(-1)) * Math.Exp(-1)).ToString("0.00", CultureInfo.InvariantCulture),
            Retained(t, "$SYS/broker/load/messages/received/1min"));
    }

    [Fact]
    public void Metrics_totals_sum_what_the_counters_were_given()
    {
        using var metrics = new CicadaMetrics();
        using var other = new CicadaMetrics();

        metrics.MessagesReceived.Add(3);
        metrics.MessagesSent.Add(5);
        metrics.MessagesSent.Add(2);
        metrics.MessagesDropped.Add(1);
        other.MessagesSent.Add(100);

        Assert.Equal(3, metrics.TotalMessagesReceived);
        Assert.Equal(7, metrics.TotalMessagesSent);
        Assert.Equal(1, metrics.TotalMessagesDropped);
        Assert.Equal(100, other.TotalMessagesSent);
    }
}

/// <summary>The <c>cicada.connections</c> gauge counts clients on the network, not the broker's own sessions.</summary>
public class ConnectionGaugeTests
{
    [Fact]
    public async Task Connections_count_network_clients_only_not_internal_or_edge_held_sessions()
    {
        using var t = await TestBroker.StartAsync();
        var remote = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 50_000);
        var client = t.Broker.Connect("device", cleanStart: true, persistent: false, new FakeConnection(), will: null, "mqtt", remote).Link;
        _ = t.Broker.Connect("$devices:watch", cleanStart: true, persistent: false, new FakeConnection(), will: null, Broker.InternalProtocol, remote);
        var queue = t.Broker.Connect("amqp:q:jobs", cleanStart: true, persistent: false, new FakeConnection(), will: null, "amqp", remote: null).Link;
        Assert.Equal(1, t.Broker.Metrics.Connections);

        t.Broker.Disconnect(queue, publishWill: false);
        Assert.Equal(1, t.Broker.Metrics.Connections);
        t.Broker.Disconnect(client, publishWill: false);
        Assert.Equal(0, t.Broker.Metrics.Connections);
    }
}
