using System.Diagnostics;
using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 3.1.1 §3.1.2.10 Keep Alive and §3.12/3.13 PINGREQ/PINGRESP.</summary>
public sealed class KeepAliveTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Fact]
    public async Task MQTT_3_12_4_1_pingreq_gets_pingresp()
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());

        for (var i = 0; i < 3; i++)
        {
            await client.SendAsync(MqttPackets.PingReq());
            var pingResp = await client.ReadPacketAsync(PacketType.PingResp);
            Assert.Equal(0xD0, pingResp.Header);
            Assert.Empty(pingResp.Body);
        }
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_3_1_2_24_keep_alive_timeout_closes_connection_and_sends_will(MqttVersion version)
    {
        const int keepAliveSeconds = 1;
        var willTopic = TestNames.Topic("will");
        await using var watcher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("watch"));
        await watcher.SubscribeAsync(willTopic, 1);

        var clock = Stopwatch.StartNew();
        await using var silent = await RawMqttClient.ConnectAcceptedAsync(_port, new ConnectOptions
        {
            ClientId = TestNames.ClientId("idle"),
            Version = version,
            KeepAlive = keepAliveSeconds,
            WillTopic = willTopic,
            WillPayload = "timed out"u8.ToArray(),
            WillQoS = 1,
        });

        // 1.5 × keep alive is the rule; the upper bound adds a wide margin for a loaded machine.
        await silent.ExpectClosedAsync(TimeSpan.FromSeconds(keepAliveSeconds * 1.5 + 8));
        var elapsed = clock.Elapsed;
        Assert.True(elapsed >= TimeSpan.FromSeconds(keepAliveSeconds), $"Closed after {elapsed}, before even one keep-alive period.");

        var will = await watcher.ReceivePublishAsync(); // MQTT-3.1.2-8: a keep-alive timeout is not a DISCONNECT
        Assert.Equal("timed out", will.PayloadText);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task MQTT_3_1_2_23_any_control_packet_within_keep_alive_keeps_the_connection_open(bool usePing)
    {
        const int keepAliveSeconds = 2;
        var topic = TestNames.Topic("keep");
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, new ConnectOptions { ClientId = TestNames.ClientId(), KeepAlive = keepAliveSeconds });

        // Five seconds is 2.5 keep-alive periods: long past the 1.5 × deadline had the activity not counted.
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            if (usePing)
            {
                await client.SendAsync(MqttPackets.PingReq());
                await client.ReadPacketAsync(PacketType.PingResp);
            }
            else
            {
                await client.SendAsync(MqttPackets.Publish(topic, "tick"));
            }

            await Task.Delay(TimeSpan.FromMilliseconds(400));
        }

        await client.AssertOpenAsync();
    }

    [Fact]
    public async Task MQTT_3_1_2_10_keep_alive_0_turns_the_mechanism_off()
    {
        await using var idle = await RawMqttClient.ConnectAcceptedAsync(_port, new ConnectOptions { ClientId = TestNames.ClientId(), KeepAlive = 0 });
        await using var short1 = await RawMqttClient.ConnectAcceptedAsync(_port, new ConnectOptions { ClientId = TestNames.ClientId(), KeepAlive = 1 });

        // The keep-alive 1 connection is the control: once the broker has timed it out, a keep-alive
        // mechanism has run well past the point where a non-zero value would have closed `idle`.
        await short1.ExpectClosedAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(TimeSpan.FromSeconds(1));

        await idle.AssertOpenAsync();
    }
}
