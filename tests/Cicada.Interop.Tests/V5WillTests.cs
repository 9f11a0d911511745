using System.Diagnostics;
using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 5 §3.1.2.5 Will, §3.1.3.2 will properties (Will Delay Interval), §3.14.2.1 DISCONNECT reasons and the will.</summary>
public sealed class V5WillTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    private static V5Connect WillClient(string willTopic, string payload, uint? delay = null, uint? sessionExpiry = null, V5Props? willProps = null, string? id = null)
    {
        var props = willProps ?? new V5Props();
        if (delay is { } d)
        {
            props.UInt32(Prop.WillDelayInterval, d);
        }

        return new V5Connect
        {
            ClientId = id ?? TestNames.ClientId("will"),
            SessionExpiry = sessionExpiry,
            WillTopic = willTopic,
            WillPayload = System.Text.Encoding.UTF8.GetBytes(payload),
            WillQoS = 1,
            WillProperties = props,
        };
    }

    private async Task<RawMqttClient> WatchAsync(params string[] topics)
    {
        var watcher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("watch"));
        await watcher.SubscribeV5Async(null, [.. topics.Select(t => (t, V5Packets.Options(1)))]);
        return watcher;
    }

    private async Task SentinelAsync(string topic)
    {
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishV5Async(topic, "end", qos: 1);
    }

    [Fact]
    public async Task MQTT_3_1_3_9_the_will_is_sent_after_its_delay()
    {
        var topic = TestNames.Topic("will");
        await using var watcher = await WatchAsync(topic);
        var dying = await V5Client.ConnectAcceptedAsync(_port, WillClient(topic, "late", delay: 2, sessionExpiry: 60));

        var clock = Stopwatch.StartNew();
        dying.Abort();
        await dying.DisposeAsync();
        var will = await watcher.ReceiveV5Async();

        Assert.Equal("late", will.PayloadText);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.5), $"The will came after {clock.Elapsed}, before its 2 s delay.");
    }

    [Fact]
    public async Task MQTT_3_1_3_9_a_reconnect_within_the_delay_cancels_the_will()
    {
        var topic = TestNames.Topic("will");
        var sentinel = TestNames.Topic("sentinel");
        await using var watcher = await WatchAsync(topic, sentinel);
        var id = TestNames.ClientId("back");
        var dying = await V5Client.ConnectAcceptedAsync(_port, WillClient(topic, "must not appear", delay: 2, sessionExpiry: 60, id: id));
        dying.Abort();
        await dying.DisposeAsync();

        await using var back = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = id, CleanStart = false, SessionExpiry = 60 });
        await Task.Delay(TimeSpan.FromSeconds(3));
        await SentinelAsync(sentinel);

        Assert.Empty(await watcher.ReceiveV5UntilAsync(sentinel));
    }

    [Fact]
    public async Task Section_3_1_3_2_2_the_will_is_sent_when_the_session_ends_before_the_delay()
    {
        var topic = TestNames.Topic("will");
        await using var watcher = await WatchAsync(topic);
        var dying = await V5Client.ConnectAcceptedAsync(_port, WillClient(topic, "session over", delay: 300, sessionExpiry: 1));

        dying.Abort();
        await dying.DisposeAsync();

        Assert.Equal("session over", (await watcher.ReceiveV5Async(TimeSpan.FromSeconds(5))).PayloadText);
    }

    [Fact]
    public async Task Section_3_14_2_1_DISCONNECT_0x04_asks_for_the_will()
    {
        var topic = TestNames.Topic("will");
        await using var watcher = await WatchAsync(topic);
        await using var client = await V5Client.ConnectAcceptedAsync(_port, WillClient(topic, "asked for"));

        await client.SendAsync(V5Packets.Disconnect(0x04));
        await client.ExpectClosedAsync();

        Assert.Equal("asked for", (await watcher.ReceiveV5Async()).PayloadText);
    }

    [Fact]
    public async Task MQTT_3_14_4_3_DISCONNECT_0x00_discards_the_will()
    {
        var topic = TestNames.Topic("will");
        var sentinel = TestNames.Topic("sentinel");
        await using var watcher = await WatchAsync(topic, sentinel);
        await using var client = await V5Client.ConnectAcceptedAsync(_port, WillClient(topic, "must not appear"));

        await client.SendAsync(V5Packets.Disconnect(0x00));
        await client.ExpectClosedAsync();
        await SentinelAsync(sentinel);

        Assert.Empty(await watcher.ReceiveV5UntilAsync(sentinel));
    }

    [SkippableFact]
    public async Task MQTT_3_1_2_8_a_DISCONNECT_with_an_error_reason_still_publishes_the_will()
    {
        V5Deviation.SkipOnMosquitto("it discards the will on every DISCONNECT reason but 0x04, where MQTT-3.1.2-8/MQTT-3.14.4-3 discard it for 0x00 only");
        var topic = TestNames.Topic("will");
        await using var watcher = await WatchAsync(topic);
        await using var client = await V5Client.ConnectAcceptedAsync(_port, WillClient(topic, "error"));

        await client.SendAsync(V5Packets.Disconnect(0x80)); // Unspecified error
        await client.ExpectClosedAsync();

        Assert.Equal("error", (await watcher.ReceiveV5Async()).PayloadText);
    }

    [Fact]
    public async Task Section_3_1_3_2_will_properties_are_forwarded_with_the_will()
    {
        var topic = TestNames.Topic("will");
        await using var watcher = await WatchAsync(topic);
        var props = new V5Props()
            .Byte(Prop.PayloadFormatIndicator, 1)
            .UInt32(Prop.MessageExpiryInterval, 500)
            .String(Prop.ContentType, "text/plain")
            .String(Prop.ResponseTopic, "who/asks")
            .Binary(Prop.CorrelationData, [0xAB, 0xCD])
            .User("reason", "power");
        var dying = await V5Client.ConnectAcceptedAsync(_port, WillClient(topic, "props", willProps: props));

        dying.Abort();
        await dying.DisposeAsync();
        var will = await watcher.ReceiveV5Async();

        Assert.Equal("props", will.PayloadText);
        Assert.Equal((byte)1, will.Properties.Get<byte?>(Prop.PayloadFormatIndicator));
        Assert.InRange(will.MessageExpiry ?? 0, 498u, 500u);
        Assert.Equal("text/plain", will.Properties.Get<string>(Prop.ContentType));
        Assert.Equal("who/asks", will.Properties.Get<string>(Prop.ResponseTopic));
        Assert.Equal([0xAB, 0xCD], will.Properties.Get<byte[]>(Prop.CorrelationData));
        Assert.Equal([("reason", "power")], will.Properties.All<(string, string)>(Prop.UserProperty));
    }

    [Fact]
    public async Task MQTT_3_1_3_9_mosquitto_sub_killed_with_a_will_delay_has_its_will_sent_after_the_delay()
    {
        var topic = TestNames.Topic("will");
        await using var watcher = await WatchAsync(topic);
        var sub = await MosquittoClients.SubscribeAsync(_port, TestNames.Topic("idle"), clientId: TestNames.ClientId("msub"),
            extra: ["-V", "mqttv5", "-x", "60", "--will-topic", topic, "--will-payload", "mosquitto_sub died", "--will-qos", "1",
                "-D", "will", "will-delay-interval", "1"]);

        var clock = Stopwatch.StartNew();
        await sub.DisposeAsync(); // SIGKILL: no DISCONNECT
        var will = await watcher.ReceiveV5Async();

        Assert.Equal("mosquitto_sub died", will.PayloadText);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.5), $"The will came after {clock.Elapsed}, before its 1 s delay.");
    }
}
