using Cicada.Core.Topics;

namespace Cicada.Core.Tests;

/// <summary>MQTT 5 §3.1.2.11.2 Session Expiry Interval and §3.3.2.3.3 Message Expiry Interval, on a fake clock.</summary>
public class SessionExpiryTests
{
    private static readonly SubscriptionOptions Qos1 = new(QoS.AtLeastOnce);

    [Fact]
    public async Task Section_3_1_2_11_2_expiry_0_ends_the_session_with_its_connection()
    {
        using var t = await ClockedBroker.StartAsync();
        var link = t.Connect("s", 0).Link;
        await t.Broker.SubscribeAsync(link, "a", Qos1);

        t.Broker.Disconnect(link, publishWill: false);

        Assert.False(t.HasSession("s"));
        Assert.Equal(0, t.Broker.Subscriptions.Count);
        Assert.Empty(await t.Inner.Store.LoadSessionsAsync(CancellationToken.None));
        Assert.False(t.Connect("s", 60).SessionPresent);
    }

    [Fact]
    public async Task Section_3_1_2_11_2_a_session_outlives_its_connection_for_the_interval_and_keeps_queueing()
    {
        using var t = await ClockedBroker.StartAsync();
        var link = t.Connect("s", 10).Link;
        await t.Broker.SubscribeAsync(link, "a", Qos1);
        t.Broker.Disconnect(link, publishWill: false);

        t.AdvanceSeconds(9);
        await t.Inner.PublishAsync("a", "while away", QoS.AtLeastOnce);

        Assert.True(t.HasSession("s"));
        var again = t.Connect("s", 10);
        Assert.True(again.SessionPresent); // MQTT-3.2.2-2
        Assert.Equal(["while away"], t.Drain(again.Link.Session).Select(d => d.Text()));
    }

    [Fact]
    public async Task Section_3_1_2_11_2_the_session_ends_once_the_interval_has_passed()
    {
        using var t = await ClockedBroker.StartAsync();
        var link = t.Connect("s", 10).Link;
        await t.Broker.SubscribeAsync(link, "a", Qos1);
        t.Broker.Disconnect(link, publishWill: false);
        await t.Inner.PublishAsync("a", "queued", QoS.AtLeastOnce);

        t.AdvanceSeconds(9.5);
        Assert.True(t.HasSession("s"));
        t.AdvanceSeconds(0.5);

        Assert.False(t.HasSession("s"));
        Assert.Equal(0, t.Broker.Subscriptions.Count);
        Assert.Empty(await t.Inner.Store.LoadSessionsAsync(CancellationToken.None));
        Assert.Empty(await t.Inner.Store.LoadQueueAsync("s", CancellationToken.None));
        var again = t.Connect("s", 10);
        Assert.False(again.SessionPresent); // MQTT-3.2.2-3
        Assert.Empty(again.Link.Session.Subscriptions);
        Assert.Empty(t.Drain(again.Link.Session));
    }

    [Fact]
    public async Task Section_3_1_2_11_2_the_interval_counts_from_the_latest_disconnect()
    {
        using var t = await ClockedBroker.StartAsync();
        var first = t.Connect("s", 10).Link;
        t.Broker.Disconnect(first, publishWill: false);
        t.AdvanceSeconds(5);
        var second = t.Connect("s", 10).Link;
        t.AdvanceSeconds(1);
        t.Broker.Disconnect(second, publishWill: false);

        t.AdvanceSeconds(4); // 10 s after the first disconnect, 4 s after the second
        Assert.True(t.HasSession("s"));

        t.AdvanceSeconds(6);
        Assert.False(t.HasSession("s"));
    }

    [Fact]
    public async Task Section_3_1_2_11_2_a_connected_session_never_expires()
    {
        using var t = await ClockedBroker.StartAsync();
        t.Connect("s", 1);

        t.AdvanceSeconds(3600);

        Assert.True(t.HasSession("s"));
    }

    [Fact]
    public async Task Section_3_1_2_11_2_0xFFFFFFFF_means_the_session_does_not_expire()
    {
        using var t = await ClockedBroker.StartAsync();
        t.Broker.Disconnect(t.Connect("s", uint.MaxValue).Link, publishWill: false);

        t.Advance(TimeSpan.FromDays(365 * 200));

        Assert.True(t.HasSession("s"));
        Assert.True(t.Connect("s", uint.MaxValue).SessionPresent);
    }

    [Fact]
    public async Task Section_3_1_2_11_2_a_reconnect_uses_the_new_connections_interval()
    {
        using var t = await ClockedBroker.StartAsync();
        t.Broker.Disconnect(t.Connect("s", 1000).Link, publishWill: false);
        var again = t.Connect("s", 5);
        Assert.True(again.SessionPresent);

        t.Broker.Disconnect(again.Link, publishWill: false);
        t.AdvanceSeconds(5);

        Assert.False(t.HasSession("s"));
    }

    [Fact]
    public async Task Section_3_1_2_11_2_resuming_with_expiry_0_makes_the_session_end_with_this_connection()
    {
        using var t = await ClockedBroker.StartAsync();
        var link = t.Connect("s", 100).Link;
        await t.Broker.SubscribeAsync(link, "a", Qos1);
        t.Broker.Disconnect(link, publishWill: false);
        Assert.Single(await t.Inner.Store.LoadSessionsAsync(CancellationToken.None));

        var again = t.Connect("s", 0);
        Assert.True(again.SessionPresent); // Clean Start 0 resumes it (MQTT-3.1.2-5)…
        Assert.Empty(await t.Inner.Store.LoadSessionsAsync(CancellationToken.None)); // …but it is not kept on disk any more
        t.Broker.Disconnect(again.Link, publishWill: false);

        Assert.False(t.HasSession("s"));
    }

    [Fact]
    public async Task MQTT_3_1_2_4_clean_start_discards_a_session_that_has_not_expired()
    {
        using var t = await ClockedBroker.StartAsync();
        var link = t.Connect("s", 100).Link;
        await t.Broker.SubscribeAsync(link, "a", Qos1);
        t.Broker.Disconnect(link, publishWill: false);
        await t.Inner.PublishAsync("a", "old", QoS.AtLeastOnce);

        var fresh = t.Connect("s", 100, cleanStart: true);

        Assert.False(fresh.SessionPresent);
        Assert.Empty(fresh.Link.Session.Subscriptions);
        Assert.Empty(t.Drain(fresh.Link.Session));
    }

    [Fact]
    public async Task Section_3_14_2_2_2_DISCONNECT_can_shorten_the_interval_to_0()
    {
        using var t = await ClockedBroker.StartAsync();
        var link = t.Connect("s", 100).Link;
        await t.Broker.SubscribeAsync(link, "a", Qos1);

        t.Broker.SetSessionExpiry(link, 0);
        t.Broker.Disconnect(link, publishWill: false);

        Assert.False(t.HasSession("s"));
        Assert.Empty(await t.Inner.Store.LoadSessionsAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Section_3_14_2_2_2_DISCONNECT_can_lengthen_the_interval()
    {
        using var t = await ClockedBroker.StartAsync();
        var link = t.Connect("s", 10).Link;

        t.Broker.SetSessionExpiry(link, 100);
        t.Broker.Disconnect(link, publishWill: false);
        t.AdvanceSeconds(50);

        Assert.True(t.HasSession("s"));
        Assert.Equal(100u, Assert.Single(await t.Inner.Store.LoadSessionsAsync(CancellationToken.None)).ExpirySeconds);
        t.AdvanceSeconds(50);
        Assert.False(t.HasSession("s"));
    }

    [Fact]
    public async Task SetSessionExpiry_from_a_connection_that_was_taken_over_changes_nothing()
    {
        using var t = await ClockedBroker.StartAsync();
        var old = t.Connect("s", 10).Link;
        var current = t.Connect("s", 10).Link;

        t.Broker.SetSessionExpiry(old, 0);
        t.Broker.Disconnect(current, publishWill: false);

        Assert.True(t.HasSession("s"));
        Assert.Equal(10u, current.Session.ExpirySeconds);
    }

    [Fact]
    public async Task Section_3_3_2_3_3_a_message_expires_in_an_offline_sessions_queue_and_leaves_the_store()
    {
        using var t = await ClockedBroker.StartAsync();
        var link = t.Connect("s", 1000).Link;
        await t.Broker.SubscribeAsync(link, "a", Qos1);
        t.Broker.Disconnect(link, publishWill: false);
        await t.Broker.PublishAsync(TestBroker.Message("a", "short", QoS.AtLeastOnce, expiresAt: t.Now.AddSeconds(5)));
        await t.Broker.PublishAsync(TestBroker.Message("a", "long", QoS.AtLeastOnce, expiresAt: t.Now.AddSeconds(60)));
        await t.Broker.PublishAsync(TestBroker.Message("a", "forever", QoS.AtLeastOnce));

        t.AdvanceSeconds(10);
        var again = t.Connect("s", 1000);

        var delivered = t.Drain(again.Link.Session);
        Assert.Equal(["long", "forever"], delivered.Select(d => d.Text()));
        // The remaining lifetime is what the edge forwards (MQTT-3.3.2-6): 50 s of the 60 are left.
        Assert.Equal(TimeSpan.FromSeconds(50), delivered[0].Message.ExpiresAt - t.Now);
        Assert.DoesNotContain(await t.Inner.Store.LoadQueueAsync("s", CancellationToken.None), r => r.Message.Payload.Span.SequenceEqual("short"u8));
    }

    [Fact]
    public async Task Section_3_3_2_3_3_an_expired_retained_message_is_not_sent_to_a_new_subscriber()
    {
        using var t = await ClockedBroker.StartAsync();
        await t.Broker.PublishAsync(TestBroker.Message("r/1", "stale", QoS.AtLeastOnce, retain: true, expiresAt: t.Now.AddSeconds(5)));
        await t.Broker.PublishAsync(TestBroker.Message("r/2", "fresh", QoS.AtLeastOnce, retain: true, expiresAt: t.Now.AddSeconds(500)));
        t.AdvanceSeconds(6);
        var link = t.Connect("s", 0).Link;
        var options = new SubscriptionOptions(QoS.AtLeastOnce);
        await t.Broker.SubscribeAsync(link, "r/+", options);

        t.Broker.DeliverRetained(link, "r/+", options);

        Assert.Equal(["fresh"], t.Drain(link.Session).Select(d => d.Text()));
    }
}
