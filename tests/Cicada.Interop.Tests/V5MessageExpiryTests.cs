using System.Text.Json.Nodes;
using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 5 §3.3.2.3.3 Message Expiry Interval: messages expire where they wait, and the rest of the interval is forwarded.</summary>
public sealed class V5MessageExpiryTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    private static V5Props Expiry(uint seconds) => new V5Props().UInt32(Prop.MessageExpiryInterval, seconds);

    /// <summary>A subscriber session that stays for 5 minutes, disconnected again.</summary>
    private async Task<string> OfflineSubscriberAsync(params string[] filters)
    {
        var id = TestNames.ClientId("off");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = id, SessionExpiry = 300 });
        await client.SubscribeV5Async(null, [.. filters.Select(f => (f, V5Packets.Options(1)))]);
        await client.DisconnectAndWaitForCloseAsync();
        return id;
    }

    [Fact]
    public async Task MQTT_3_3_2_5_a_message_expires_in_an_offline_sessions_queue()
    {
        var topic = TestNames.Topic("exp");
        var sentinel = TestNames.Topic("sentinel");
        var id = await OfflineSubscriberAsync(topic, sentinel);
        await using (var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub")))
        {
            await publisher.PublishV5Async(topic, "short-lived", qos: 1, props: Expiry(1));
            await publisher.PublishV5Async(topic, "long-lived", qos: 1, props: Expiry(600));
            await Task.Delay(TimeSpan.FromSeconds(2.2));
            await publisher.PublishV5Async(sentinel, "end", qos: 1);
        }

        await using var again = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = id, CleanStart = false, SessionExpiry = 300 });
        var before = await again.ReceiveV5UntilAsync(sentinel);

        Assert.Equal(["long-lived"], before.Select(p => p.PayloadText));
    }

    [Fact]
    public async Task MQTT_3_3_2_6_the_remaining_interval_is_forwarded_and_is_smaller_than_the_one_sent()
    {
        var topic = TestNames.Topic("rem");
        var id = await OfflineSubscriberAsync(topic);
        await using (var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub")))
        {
            await publisher.PublishV5Async(topic, "ages", qos: 1, props: Expiry(60));
        }

        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await using var again = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = id, CleanStart = false, SessionExpiry = 300 });
        var publish = await again.ReceiveV5Async();

        Assert.Equal("ages", publish.PayloadText);
        Assert.InRange(publish.MessageExpiry ?? 0, 1u, 59u);
    }

    [Fact]
    public async Task MQTT_3_3_2_6_a_live_subscriber_gets_the_interval_and_none_when_none_was_sent()
    {
        var topic = TestNames.Topic("live");
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeV5Async(topic);
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));

        await publisher.PublishV5Async(topic, "with", qos: 1, props: Expiry(100));
        await publisher.PublishV5Async(topic, "without", qos: 1);

        var with = await subscriber.ReceiveV5Async();
        var without = await subscriber.ReceiveV5Async();
        Assert.InRange(with.MessageExpiry ?? 0, 99u, 100u);
        Assert.Null(without.MessageExpiry);
    }

    [Fact]
    public async Task MQTT_3_3_2_5_an_expired_retained_message_is_not_sent_to_new_subscribers()
    {
        var root = TestNames.Topic("ret");
        await using (var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub")))
        {
            await publisher.PublishV5Async(root + "/stale", "stale", qos: 1, retain: true, props: Expiry(1));
            await publisher.PublishV5Async(root + "/fresh", "fresh", qos: 1, retain: true, props: Expiry(600));
        }

        await Task.Delay(TimeSpan.FromSeconds(2.2));
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeV5Async(root + "/+");

        var retained = await subscriber.ReceiveV5Async();
        Assert.Equal("fresh", retained.PayloadText);
        Assert.True(retained.Retain);
        Assert.InRange(retained.MessageExpiry ?? 0, 1u, 599u); // counted down while it was retained
        await BrokerAssert.NothingMoreAsync(subscriber);
    }

    [Fact]
    public async Task Section_3_3_2_3_3_mosquitto_pub_sets_the_interval_and_paho_reads_it()
    {
        var topic = TestNames.Topic("mpub");
        await using var paho = await PahoV5Client.StartAsync(_port, new JsonObject
        {
            ["id"] = TestNames.ClientId("paho"),
            ["subs"] = new JsonArray(new JsonObject { ["topic"] = topic, ["qos"] = 1 }),
            ["count"] = 1,
        });

        await MosquittoClients.PublishAsync(_port, topic, "timed", qos: 1, extra: ["-V", "mqttv5", "-D", "publish", "message-expiry-interval", "300"]);

        var message = Assert.Single((await paho.WaitAsync()).Messages);
        Assert.Equal("timed", (string?)message["payload"]);
        Assert.InRange((int)message["props"]!["MessageExpiryInterval"]!, 299, 300);
    }
}
