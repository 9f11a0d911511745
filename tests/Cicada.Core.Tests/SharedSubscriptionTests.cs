using Cicada.Core.Sessions;
using Cicada.Core.Topics;

namespace Cicada.Core.Tests;

/// <summary>MQTT 5 §4.8.2 shared subscriptions <c>$share/{group}/{filter}</c>.</summary>
public class SharedSubscriptionTests
{
    private static readonly SubscriptionOptions Qos1 = new(QoS.AtLeastOnce);

    private static async Task<ClientLink> MemberAsync(ClockedBroker t, string clientId, string filter, uint expiry = 0, SubscriptionOptions? options = null)
    {
        var link = t.Connect(clientId, expiry).Link;
        await t.Broker.SubscribeAsync(link, filter, options ?? Qos1);
        return link;
    }

    private static async Task PublishAllAsync(ClockedBroker t, string topic, int count, QoS qos = QoS.AtLeastOnce)
    {
        for (var i = 0; i < count; i++)
        {
            await t.Inner.PublishAsync(topic, $"m{i}", qos);
        }
    }

    [Fact]
    public async Task Section_4_8_2_each_message_goes_to_one_member_round_robin()
    {
        using var t = await ClockedBroker.StartAsync();
        var members = new[]
        {
            await MemberAsync(t, "a", "$share/g/jobs/+"),
            await MemberAsync(t, "b", "$share/g/jobs/+"),
            await MemberAsync(t, "c", "$share/g/jobs/+"),
        };

        await PublishAllAsync(t, "jobs/1", 9);

        var got = members.Select(m => t.Drain(m.Session).Select(d => d.Text()).ToList()).ToList();
        Assert.All(got, g => Assert.Equal(3, g.Count));
        Assert.Equal(9, got.SelectMany(g => g).Distinct().Count());
    }

    [Fact]
    public async Task Section_4_8_2_every_group_and_every_ordinary_subscriber_gets_its_own_copy()
    {
        using var t = await ClockedBroker.StartAsync();
        var g1 = new[] { await MemberAsync(t, "a1", "$share/one/t"), await MemberAsync(t, "a2", "$share/one/t") };
        var g2 = await MemberAsync(t, "b1", "$share/two/t");
        var plain = await MemberAsync(t, "p", "t");

        await PublishAllAsync(t, "t", 4);

        Assert.Equal(4, g1.Sum(m => t.Drain(m.Session).Count));
        Assert.Equal(4, t.Drain(g2.Session).Count);
        Assert.Equal(4, t.Drain(plain.Session).Count);
    }

    [Fact]
    public async Task Section_4_8_2_the_same_filter_in_another_group_or_without_share_is_independent()
    {
        using var t = await ClockedBroker.StartAsync();
        var link = t.Connect("x", 0).Link;
        await t.Broker.SubscribeAsync(link, "$share/g/t", Qos1);

        Assert.Equal(1, t.Broker.Subscriptions.Count);
        Assert.True(t.Broker.Unsubscribe(link, "$share/g/t"));
        Assert.False(t.Broker.Unsubscribe(link, "t")); // never subscribed without the share prefix
        Assert.Equal(0, t.Broker.Subscriptions.Count);

        await t.Inner.PublishAsync("t", "after", QoS.AtLeastOnce);
        Assert.Empty(t.Drain(link.Session));
    }

    [Fact]
    public async Task MQTT_3_8_4_3_resubscribing_to_the_same_share_replaces_the_membership()
    {
        using var t = await ClockedBroker.StartAsync();
        var a = await MemberAsync(t, "a", "$share/g/t");
        await t.Broker.SubscribeAsync(a, "$share/g/t", new SubscriptionOptions(QoS.ExactlyOnce));
        var b = await MemberAsync(t, "b", "$share/g/t");

        await PublishAllAsync(t, "t", 4, QoS.ExactlyOnce);

        Assert.Equal(2, t.Broker.Subscriptions.Count);
        var fromA = t.Drain(a.Session);
        Assert.Equal(2, fromA.Count); // a is one member, not two
        Assert.All(fromA, d => Assert.Equal(QoS.ExactlyOnce, d.Qos)); // with the new options
        Assert.Equal(2, t.Drain(b.Session).Count);
    }

    [Fact]
    public async Task Section_4_8_2_connected_members_are_preferred_to_disconnected_ones()
    {
        using var t = await ClockedBroker.StartAsync();
        var away = await MemberAsync(t, "away", "$share/g/t", expiry: 100);
        var here = await MemberAsync(t, "here", "$share/g/t");
        t.Broker.Disconnect(away, publishWill: false);

        await PublishAllAsync(t, "t", 4);

        Assert.Equal(4, t.Drain(here.Session).Count);
        Assert.Equal(0, away.Session.PendingCount);
    }

    [Fact]
    public async Task Section_4_8_2_with_every_member_offline_messages_wait_in_one_members_session()
    {
        using var t = await ClockedBroker.StartAsync();
        var a = await MemberAsync(t, "a", "$share/g/t", expiry: 100);
        var b = await MemberAsync(t, "b", "$share/g/t", expiry: 100);
        t.Broker.Disconnect(a, publishWill: false);
        t.Broker.Disconnect(b, publishWill: false);

        await PublishAllAsync(t, "t", 4);

        Assert.Equal(4, a.Session.PendingCount + b.Session.PendingCount);
    }

    [Fact]
    public async Task Section_4_8_2_no_retained_messages_are_sent_for_a_shared_subscription()
    {
        using var t = await ClockedBroker.StartAsync();
        await t.Inner.PublishAsync("r/t", "kept", QoS.AtLeastOnce, retain: true);
        var link = await MemberAsync(t, "a", "$share/g/r/#");

        t.Broker.DeliverRetained(link, "$share/g/r/#", Qos1);

        Assert.Empty(t.Drain(link.Session));
    }

    [Fact]
    public async Task Section_4_8_2_messages_held_by_a_member_whose_session_ends_go_to_another_member()
    {
        using var t = await ClockedBroker.StartAsync();
        var leaving = await MemberAsync(t, "leaving", "$share/g/t");
        var staying = await MemberAsync(t, "staying", "$share/g/t");
        await PublishAllAsync(t, "t", 6);
        Assert.Equal(3, leaving.Session.PendingCount);

        // One in flight (sent, not acknowledged), two still queued.
        Assert.True(leaving.Session.TryTakeNext(10, t.Now, out var inflight, out _));
        var stayingOwn = t.Drain(staying.Session).Select(d => d.Text()).ToList();
        t.Broker.Disconnect(leaving, publishWill: false); // expiry 0: the session ends

        var handedOver = t.Drain(staying.Session).Select(d => d.Text()).ToList();
        Assert.Equal(3, handedOver.Count);
        Assert.Equal(inflight.Text(), handedOver[0]); // in order: the in-flight one first
        Assert.Equal(6, stayingOwn.Concat(handedOver).Distinct().Count());
    }

    [Fact]
    public async Task Section_4_8_2_messages_of_an_expired_member_are_handed_over_when_its_session_expires()
    {
        using var t = await ClockedBroker.StartAsync();
        var offline = await MemberAsync(t, "offline", "$share/g/t", expiry: 10);
        var other = await MemberAsync(t, "other", "$share/g/t", expiry: 10);
        t.Broker.Disconnect(offline, publishWill: false);
        t.Broker.Disconnect(other, publishWill: false);
        await PublishAllAsync(t, "t", 4);
        var otherLink = t.Connect("other", 10).Link;
        var before = t.Drain(otherLink.Session).Count;

        t.AdvanceSeconds(10); // "offline" expires; "other" is connected and does not

        Assert.False(t.HasSession("offline"));
        Assert.Equal(4, before + t.Drain(otherLink.Session).Count);
    }

    [Fact]
    public async Task Section_4_8_2_after_a_member_unsubscribes_the_others_get_everything()
    {
        using var t = await ClockedBroker.StartAsync();
        var a = await MemberAsync(t, "a", "$share/g/t");
        var b = await MemberAsync(t, "b", "$share/g/t");

        Assert.True(t.Broker.Unsubscribe(a, "$share/g/t"));
        await PublishAllAsync(t, "t", 3);

        Assert.Empty(t.Drain(a.Session));
        Assert.Equal(3, t.Drain(b.Session).Count);
    }

    [Fact]
    public async Task MQTT_3_8_4_6_a_member_gets_at_most_its_granted_QoS()
    {
        using var t = await ClockedBroker.StartAsync();
        var link = await MemberAsync(t, "a", "$share/g/t", options: new SubscriptionOptions(QoS.AtMostOnce));

        await t.Inner.PublishAsync("t", "m", QoS.ExactlyOnce);

        Assert.Equal(QoS.AtMostOnce, Assert.Single(t.Drain(link.Session)).Qos);
    }

    [Fact]
    public async Task MQTT_3_3_4_3_a_shared_subscriptions_identifier_comes_with_its_deliveries()
    {
        using var t = await ClockedBroker.StartAsync();
        var link = await MemberAsync(t, "a", "$share/g/t/#", options: new SubscriptionOptions(QoS.AtLeastOnce, SubscriptionId: 77));

        await t.Inner.PublishAsync("t/x", "m", QoS.AtLeastOnce);

        var delivery = Assert.Single(t.Drain(link.Session));
        Assert.Equal(77, delivery.Via!.Options.SubscriptionId);
        Assert.Equal("g", delivery.Via.ShareGroup);
    }

    [Fact]
    public async Task Section_4_8_2_a_leading_wildcard_share_does_not_match_dollar_topics()
    {
        using var t = await ClockedBroker.StartAsync();
        var link = await MemberAsync(t, "a", "$share/g/#");

        await t.Inner.PublishAsync("$SYS/x", "sys", QoS.AtLeastOnce);
        await t.Inner.PublishAsync("x", "plain", QoS.AtLeastOnce);

        Assert.Equal(["plain"], t.Drain(link.Session).Select(d => d.Text()));
    }
}
