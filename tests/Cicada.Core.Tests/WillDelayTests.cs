using Cicada.Core.Sessions;

namespace Cicada.Core.Tests;

/// <summary>MQTT 5 §3.1.3.2.2 Will Delay Interval (with §3.1.2.5 and §3.1.2.11.2), on a fake clock.</summary>
public class WillDelayTests
{
    private static Will WillOf(string payload, uint delay, uint? expiry = null) =>
        new(TestBroker.Message("status/dev", payload, QoS.AtLeastOnce, origin: "dev"), delay, expiry);

    [Fact]
    public async Task MQTT_3_1_3_9_the_will_waits_for_its_delay()
    {
        using var t = await ClockedBroker.StartAsync();
        var watcher = await t.WatchAsync("status/#");
        var link = t.Connect("dev", 100, will: WillOf("offline", 10)).Link;

        t.Broker.Disconnect(link, publishWill: true);
        t.AdvanceSeconds(9);
        Assert.Empty(t.Drain(watcher.Session));

        t.AdvanceSeconds(1);
        Assert.Equal(["offline"], t.Drain(watcher.Session).Select(d => d.Text()));

        // Once only.
        t.AdvanceSeconds(100);
        Assert.Empty(t.Drain(watcher.Session));
    }

    [Fact]
    public async Task MQTT_3_1_3_9_a_reconnect_before_the_delay_cancels_the_will()
    {
        using var t = await ClockedBroker.StartAsync();
        var watcher = await t.WatchAsync("status/#");
        var link = t.Connect("dev", 100, will: WillOf("offline", 10)).Link;
        t.Broker.Disconnect(link, publishWill: true);
        t.AdvanceSeconds(5);

        var again = t.Connect("dev", 100);
        t.AdvanceSeconds(60);

        Assert.True(again.SessionPresent);
        Assert.Empty(t.Drain(watcher.Session));
    }

    [Fact]
    public async Task Section_3_1_3_2_2_the_will_goes_when_the_session_ends_if_that_is_sooner()
    {
        using var t = await ClockedBroker.StartAsync();
        var watcher = await t.WatchAsync("status/#");
        var link = t.Connect("dev", 5, will: WillOf("offline", 60)).Link;
        t.Broker.Disconnect(link, publishWill: true);

        t.AdvanceSeconds(4);
        Assert.Empty(t.Drain(watcher.Session));
        t.AdvanceSeconds(1);

        Assert.Equal(["offline"], t.Drain(watcher.Session).Select(d => d.Text()));
        Assert.False(t.HasSession("dev"));
        t.AdvanceSeconds(60);
        Assert.Empty(t.Drain(watcher.Session));
    }

    [Fact]
    public async Task Section_3_1_3_2_2_with_session_expiry_0_the_will_goes_at_once_whatever_its_delay()
    {
        using var t = await ClockedBroker.StartAsync();
        var watcher = await t.WatchAsync("status/#");
        var link = t.Connect("dev", 0, will: WillOf("offline", 30)).Link;

        t.Broker.Disconnect(link, publishWill: true);

        Assert.Equal(["offline"], t.Drain(watcher.Session).Select(d => d.Text()));
    }

    [Fact]
    public async Task MQTT_3_1_2_8_a_will_without_delay_goes_at_once_even_if_the_session_stays()
    {
        using var t = await ClockedBroker.StartAsync();
        var watcher = await t.WatchAsync("status/#");
        var link = t.Connect("dev", 100, will: WillOf("offline", 0)).Link;

        t.Broker.Disconnect(link, publishWill: true);

        Assert.Equal(["offline"], t.Drain(watcher.Session).Select(d => d.Text()));
        Assert.True(t.HasSession("dev"));
    }

    [Fact]
    public async Task MQTT_3_14_4_3_a_normal_disconnect_drops_a_delayed_will()
    {
        using var t = await ClockedBroker.StartAsync();
        var watcher = await t.WatchAsync("status/#");
        var link = t.Connect("dev", 5, will: WillOf("offline", 2)).Link;

        t.Broker.Disconnect(link, publishWill: false);
        t.AdvanceSeconds(10);

        Assert.Empty(t.Drain(watcher.Session));
    }

    [Fact]
    public async Task Section_3_14_2_2_2_shortening_the_session_to_0_on_DISCONNECT_with_will_sends_the_will_at_once()
    {
        using var t = await ClockedBroker.StartAsync();
        var watcher = await t.WatchAsync("status/#");
        var link = t.Connect("dev", 100, will: WillOf("offline", 50)).Link;

        t.Broker.SetSessionExpiry(link, 0);
        t.Broker.Disconnect(link, publishWill: true); // DISCONNECT 0x04: Disconnect with Will Message

        Assert.Equal(["offline"], t.Drain(watcher.Session).Select(d => d.Text()));
    }

    [Fact]
    public async Task MQTT_3_1_3_9_a_takeover_within_the_delay_sends_no_will()
    {
        using var t = await ClockedBroker.StartAsync();
        var watcher = await t.WatchAsync("status/#");
        var old = t.Connect("dev", 100, will: WillOf("offline", 10)).Link;

        t.Connect("dev", 100); // the new connection resumes the session (Clean Start 0)…
        t.Broker.Disconnect(old, publishWill: true); // …then the old one's close is processed
        t.AdvanceSeconds(30);

        Assert.Empty(t.Drain(watcher.Session));
    }

    [Fact]
    public async Task Section_3_1_4_a_takeover_with_clean_start_ends_the_session_so_the_will_goes()
    {
        using var t = await ClockedBroker.StartAsync();
        var watcher = await t.WatchAsync("status/#");
        var old = t.Connect("dev", 100, will: WillOf("offline", 10)).Link;

        t.Connect("dev", 100, cleanStart: true);
        t.Broker.Disconnect(old, publishWill: true);

        Assert.Equal(["offline"], t.Drain(watcher.Session).Select(d => d.Text()));
    }

    [Fact]
    public async Task Section_3_1_2_5_a_clean_start_after_the_disconnect_ends_the_session_and_sends_the_pending_will()
    {
        using var t = await ClockedBroker.StartAsync();
        var watcher = await t.WatchAsync("status/#");
        t.Broker.Disconnect(t.Connect("dev", 100, will: WillOf("offline", 60)).Link, publishWill: true);
        t.AdvanceSeconds(5);

        t.Connect("dev", 100, cleanStart: true);

        Assert.Equal(["offline"], t.Drain(watcher.Session).Select(d => d.Text()));
        t.AdvanceSeconds(60);
        Assert.Empty(t.Drain(watcher.Session));
    }

    [Fact]
    public async Task Section_3_1_3_2_3_the_wills_message_expiry_counts_from_when_it_is_published()
    {
        using var t = await ClockedBroker.StartAsync();
        var watcher = await t.WatchAsync("status/#");
        var link = t.Connect("dev", 100, will: WillOf("offline", 20, expiry: 30)).Link;
        t.Broker.Disconnect(link, publishWill: true);

        t.AdvanceSeconds(20);
        var will = Assert.Single(t.Drain(watcher.Session));

        Assert.Equal(t.Now.AddSeconds(30), will.Message.ExpiresAt);
    }

    [Fact]
    public async Task A_delayed_will_keeps_its_QoS_retain_and_properties()
    {
        using var t = await ClockedBroker.StartAsync();
        var watcher = await t.WatchAsync("status/#", QoS.ExactlyOnce);
        var message = new Message("status/dev", "x"u8.ToArray(), QoS.ExactlyOnce, retain: true,
            new MessageProperties { ContentType = "text/plain", UserProperties = [new("k", "v")] }, "dev");
        var link = t.Connect("dev", 100, will: new Will(message, 1)).Link;
        t.Broker.Disconnect(link, publishWill: true);

        t.AdvanceSeconds(1);

        var delivered = Assert.Single(t.Drain(watcher.Session));
        Assert.Equal(QoS.ExactlyOnce, delivered.Qos);
        Assert.Equal("text/plain", delivered.Message.Properties!.ContentType);
        Assert.Same(message, Assert.Single(GetRetained(t, "status/dev")));
    }

    private static List<Message> GetRetained(ClockedBroker t, string filter)
    {
        var found = new List<Message>();
        t.Broker.Retained.Match(filter, found);
        return found;
    }
}
