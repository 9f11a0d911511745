using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 3.1.1 §3.1.2.5–3.1.2.7 the Will Message.</summary>
public sealed class WillTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_3_1_2_8_will_is_published_when_the_connection_drops(MqttVersion version)
    {
        var willTopic = TestNames.Topic("will");
        await using var watcher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("watch"));
        await watcher.SubscribeAsync(willTopic, 1);
        var dying = await RawMqttClient.ConnectAcceptedAsync(_port, WillClient(willTopic, "gone", version: version));

        dying.Abort(); // no DISCONNECT
        await dying.DisposeAsync();

        var will = await watcher.ReceivePublishAsync();
        Assert.Equal(willTopic, will.Topic);
        Assert.Equal("gone", will.PayloadText);
        Assert.Equal(1, will.QoS);
        Assert.False(will.Retain);
    }

    [Fact]
    public async Task MQTT_3_1_2_8_will_is_published_when_the_broker_closes_for_a_protocol_error()
    {
        var willTopic = TestNames.Topic("will");
        await using var watcher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("watch"));
        await watcher.SubscribeAsync(willTopic, 0);
        await using var offender = await RawMqttClient.ConnectAcceptedAsync(_port, WillClient(willTopic, "protocol error"));

        await offender.SendAsync([0x36, 0x05, 0x00, 0x01, (byte)'x', 0x00, 0x01]); // PUBLISH with QoS 3 (MQTT-3.3.1-4)
        await offender.ExpectClosedAsync();

        Assert.Equal("protocol error", (await watcher.ReceivePublishAsync()).PayloadText);
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_3_1_2_10_will_is_not_published_after_disconnect(MqttVersion version)
    {
        var willTopic = TestNames.Topic("will");
        var sentinel = TestNames.Topic("sentinel");
        await using var watcher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("watch"));
        await watcher.SubscribeAsync((willTopic, 1), (sentinel, 1));
        await using var polite = await RawMqttClient.ConnectAcceptedAsync(_port, WillClient(willTopic, "must not appear", version: version));

        await polite.SendAsync(MqttPackets.Disconnect());
        // MQTT-3.14.4-1: the server discards the will and closes; once it has closed, it has
        // processed the DISCONNECT, so a will would already be on its way to the watcher.
        await polite.ExpectClosedAsync();
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(sentinel, "end", qos: 1);

        Assert.Empty(await watcher.ReceiveUntilAsync(sentinel));
        await BrokerAssert.NothingMoreAsync(watcher);
    }

    [Fact]
    public async Task MQTT_3_1_2_17_will_retain_1_publishes_the_will_as_retained()
    {
        var willTopic = TestNames.Topic("will");
        var dying = await RawMqttClient.ConnectAcceptedAsync(_port, WillClient(willTopic, "offline", retain: true));
        await using var watcher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("watch"));
        await watcher.SubscribeAsync(willTopic, 1);

        dying.Abort();
        await dying.DisposeAsync();
        var live = await watcher.ReceivePublishAsync();
        Assert.Equal("offline", live.PayloadText);

        // A subscriber arriving later gets it as a retained message.
        await using var late = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("late"));
        await late.SubscribeAsync(willTopic, 1);
        var retained = await late.ReceivePublishAsync();
        Assert.True(retained.Retain);
        Assert.Equal("offline", retained.PayloadText);
    }

    [Fact]
    public async Task MQTT_3_1_2_16_will_retain_0_does_not_retain_the_will()
    {
        var willTopic = TestNames.Topic("will");
        var sentinel = TestNames.Topic("sentinel");
        var dying = await RawMqttClient.ConnectAcceptedAsync(_port, WillClient(willTopic, "not kept", retain: false));
        await using var watcher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("watch"));
        await watcher.SubscribeAsync(willTopic, 1);
        dying.Abort();
        await dying.DisposeAsync();
        Assert.Equal("not kept", (await watcher.ReceivePublishAsync()).PayloadText);

        await using var retainer = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("ret"));
        await retainer.PublishAsync(sentinel, "end", qos: 1, retain: true);
        await using var late = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("late"));
        await late.SubscribeAsync(willTopic, 1);
        await late.SubscribeAsync(sentinel, 1);

        Assert.Empty(await late.ReceiveUntilAsync(sentinel));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task MQTT_3_1_2_14_will_is_published_with_its_will_qos(int willQoS)
    {
        var willTopic = TestNames.Topic("will");
        await using var watcher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("watch"));
        await watcher.SubscribeAsync(willTopic, 2);
        var dying = await RawMqttClient.ConnectAcceptedAsync(_port, WillClient(willTopic, "qos", qos: willQoS));

        dying.Abort();
        await dying.DisposeAsync();

        Assert.Equal(willQoS, (await watcher.ReceivePublishAsync()).QoS);
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_3_1_2_8_killed_mosquitto_sub_leaves_its_will(MqttVersion version)
    {
        var willTopic = TestNames.Topic("will");
        await using var watcher = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("net"), version);
        await watcher.SubscribeAsync(willTopic, 1);
        await using var doomed = await MosquittoClients.SubscribeAsync(
            _port, TestNames.Topic("x"), version: version,
            extra: ["--will-topic", willTopic, "--will-payload", "mosquitto_sub died", "--will-qos", "1"]);

        doomed.Process.Kill();

        Assert.Equal(new ReceivedMessage(willTopic, "mosquitto_sub died", 1, false), await watcher.NextMessageAsync());
    }

    private static ConnectOptions WillClient(string willTopic, string payload, int qos = 1, bool retain = false, MqttVersion version = MqttVersion.V311) => new()
    {
        ClientId = TestNames.ClientId("will"),
        Version = version,
        WillTopic = willTopic,
        WillPayload = System.Text.Encoding.UTF8.GetBytes(payload),
        WillQoS = qos,
        WillRetain = retain,
    };
}
