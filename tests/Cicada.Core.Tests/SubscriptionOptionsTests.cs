using Cicada.Core.Topics;

namespace Cicada.Core.Tests;

/// <summary>MQTT 5 §3.8.3.1 subscription options and §3.3.4 subscription identifiers, as Core applies them.</summary>
public class SubscriptionOptionsTests
{
    [Fact]
    public async Task MQTT_3_8_3_3_no_local_keeps_a_clients_own_messages_from_it()
    {
        using var t = await ClockedBroker.StartAsync();
        var me = t.Connect("me", 0).Link;
        await t.Broker.SubscribeAsync(me, "t", new SubscriptionOptions(QoS.AtLeastOnce, NoLocal: true));

        await t.Inner.PublishAsync("t", "mine", QoS.AtLeastOnce, origin: "me");
        await t.Inner.PublishAsync("t", "theirs", QoS.AtLeastOnce, origin: "other");

        Assert.Equal(["theirs"], t.Drain(me.Session).Select(d => d.Text()));
    }

    [Theory]
    [InlineData(false, true, false)]
    [InlineData(true, true, true)]
    [InlineData(true, false, false)]
    public async Task MQTT_3_3_1_12_and_13_retain_as_published_decides_the_live_retain_flag(bool retainAsPublished, bool published, bool expected)
    {
        using var t = await ClockedBroker.StartAsync();
        var link = t.Connect("s", 0).Link;
        await t.Broker.SubscribeAsync(link, "t", new SubscriptionOptions(QoS.AtLeastOnce, RetainAsPublished: retainAsPublished));

        await t.Inner.PublishAsync("t", "m", QoS.AtLeastOnce, retain: published);

        Assert.Equal(expected, Assert.Single(t.Drain(link.Session)).Retain);
    }

    [Fact]
    public async Task Retain_handling_1_needs_to_know_whether_the_subscription_existed()
    {
        using var t = await ClockedBroker.StartAsync();
        var link = t.Connect("s", 0).Link;
        var options = new SubscriptionOptions(QoS.AtLeastOnce, RetainHandling: 1);

        await t.Broker.Subscribe(link, "t", options, out var first);
        await t.Broker.Subscribe(link, "t", options, out var second);

        Assert.False(first);
        Assert.True(second);
    }

    [Fact]
    public async Task MQTT_3_3_4_3_a_delivery_carries_its_subscriptions_identifier()
    {
        using var t = await ClockedBroker.StartAsync();
        var link = t.Connect("s", 0).Link;
        await t.Broker.SubscribeAsync(link, "a/+", new SubscriptionOptions(QoS.AtLeastOnce, SubscriptionId: 12));

        await t.Inner.PublishAsync("a/b", "m", QoS.AtLeastOnce);

        var delivery = Assert.Single(t.Drain(link.Session));
        Assert.Equal(12, delivery.Via!.Options.SubscriptionId);
        Assert.Null(delivery.MoreSubscriptionIds);
    }

    [Fact]
    public async Task MQTT_3_3_4_5_overlapping_subscriptions_give_one_copy_with_every_identifier_at_the_highest_QoS()
    {
        using var t = await ClockedBroker.StartAsync();
        var link = t.Connect("s", 0).Link;
        await t.Broker.SubscribeAsync(link, "a/+", new SubscriptionOptions(QoS.AtMostOnce, SubscriptionId: 1));
        await t.Broker.SubscribeAsync(link, "a/#", new SubscriptionOptions(QoS.ExactlyOnce, SubscriptionId: 2));
        await t.Broker.SubscribeAsync(link, "+/b", new SubscriptionOptions(QoS.AtLeastOnce));
        await t.Broker.SubscribeAsync(link, "a/b", new SubscriptionOptions(QoS.AtLeastOnce, SubscriptionId: 3));

        await t.Inner.PublishAsync("a/b", "m", QoS.ExactlyOnce);

        var delivery = Assert.Single(t.Drain(link.Session));
        Assert.Equal(QoS.ExactlyOnce, delivery.Qos); // MQTT-3.3.4-2 / MQTT-3.3.5-1
        int[] ids = [delivery.Via!.Options.SubscriptionId, .. delivery.MoreSubscriptionIds ?? []];
        Assert.Equal([1, 2, 3], ids.Where(id => id != 0).Order());
    }

    [Fact]
    public async Task A_retained_delivery_carries_the_identifier_of_the_subscription_that_asked_for_it()
    {
        using var t = await ClockedBroker.StartAsync();
        await t.Inner.PublishAsync("r", "kept", QoS.AtLeastOnce, retain: true);
        var link = t.Connect("s", 0).Link;
        var options = new SubscriptionOptions(QoS.AtLeastOnce, SubscriptionId: 9);
        await t.Broker.SubscribeAsync(link, "r", options);

        t.Broker.DeliverRetained(link, "r", options);

        var delivery = Assert.Single(t.Drain(link.Session));
        Assert.True(delivery.Retain); // MQTT-3.3.1-8
        Assert.Equal(9, delivery.Via!.Options.SubscriptionId);
    }
}
