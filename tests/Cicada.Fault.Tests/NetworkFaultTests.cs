using Cicada.Fault.Tests.Infrastructure;

namespace Cicada.Fault.Tests;

/// <summary>
/// Network faults between client and broker through <see cref="FaultProxy"/>: wills fire exactly
/// when they should, half-open connections are noticed, sessions resume and in-flight messages are
/// resent after a cut.
/// </summary>
public sealed class NetworkFaultTests
{
    [Fact]
    public async Task Will_is_published_when_the_connection_is_cut_mid_packet_MQTT_3_1_2_8()
    {
        await using var server = await CicadaProcess.StartAsync(new ServerSettings { Sqlite = false });
        await using var proxy = new FaultProxy(server.MqttPort);
        var willTopic = $"will/{Guid.NewGuid():N}";
        await using var watcher = await WireClient.ConnectAsync(server.MqttPort, "watcher");
        await watcher.SubscribeAsync(willTopic, 1);

        await using var client = await WireClient.ConnectAsync(proxy.Port, "dying", willTopic: willTopic, willPayload: "gone", willQos: 1);
        var publish = client.BuildPublish("some/topic", new string('x', 500), 1, 7);
        await client.SendAsync(publish[..(publish.Length / 2)]);
        await Task.Delay(100);
        proxy.CutAll();

        var will = watcher.ParsePublish(await watcher.ReadAsync());
        Assert.Equal((willTopic, "gone"), (will.Topic, will.Payload));
    }

    [Fact]
    public async Task No_will_after_DISCONNECT_even_if_the_connection_is_then_cut_MQTT_3_1_2_10()
    {
        await using var server = await CicadaProcess.StartAsync(new ServerSettings { Sqlite = false });
        await using var proxy = new FaultProxy(server.MqttPort);
        var willTopic = $"will/{Guid.NewGuid():N}";
        await using var watcher = await WireClient.ConnectAsync(server.MqttPort, "watcher");
        await watcher.SubscribeAsync(willTopic, 1);

        await using var client = await WireClient.ConnectAsync(proxy.Port, "polite", willTopic: willTopic, willPayload: "gone", willQos: 1);
        await client.DisconnectAsync();
        await client.Closed.WaitAsync(TimeSpan.FromSeconds(5));
        proxy.CutAll();

        // Sentinel: a message published after the disconnect arrives after any will would have.
        await using (var other = await WireClient.ConnectAsync(server.MqttPort, "sentinel"))
        {
            await other.PublishAsync(willTopic, "sentinel", 1, 1);
            await other.ReadAsync();
        }

        var first = watcher.ParsePublish(await watcher.ReadAsync());
        Assert.Equal("sentinel", first.Payload);
        Assert.Null(await watcher.TryReadAsync(TimeSpan.FromMilliseconds(500)));
    }

    [Fact]
    public async Task Half_open_connection_is_closed_after_one_and_a_half_keep_alives_and_its_will_fires_MQTT_3_1_2_24()
    {
        await using var server = await CicadaProcess.StartAsync(new ServerSettings { Sqlite = false });
        await using var proxy = new FaultProxy(server.MqttPort);
        var willTopic = $"will/{Guid.NewGuid():N}";
        await using var watcher = await WireClient.ConnectAsync(server.MqttPort, "watcher");
        await watcher.SubscribeAsync(willTopic, 1);

        await using var client = await WireClient.ConnectAsync(proxy.Port, "vanished", willTopic: willTopic, willPayload: "timed out", willQos: 1, keepAlive: 1);
        proxy.GoHalfOpen();
        var started = DateTime.UtcNow;
        var will = watcher.ParsePublish(await watcher.ReadAsync(TimeSpan.FromSeconds(10)));
        var elapsed = DateTime.UtcNow - started;
        Assert.Equal("timed out", will.Payload);
        Assert.InRange(elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public async Task Cut_connection_resumes_its_session_and_resends_unacknowledged_messages_with_DUP_MQTT_4_4_0_1(int version)
    {
        await using var server = await CicadaProcess.StartAsync();
        await using var proxy = new FaultProxy(server.MqttPort) { Delay = TimeSpan.FromMilliseconds(5) };
        var topic = $"resume/{Guid.NewGuid():N}";
        const int Count = 20;
        await using (var first = await WireClient.ConnectAsync(proxy.Port, "resumer", version, clean: false, sessionExpiry: 600))
        {
            await first.SubscribeAsync(topic, 1);
            var sender = new MqttSender(topic, 1, Enumerable.Range(0, Count).Select(i => $"r{i}").ToList());
            await using (var publisher = await WireClient.ConnectAsync(server.MqttPort, "resume-pub", version))
            {
                Assert.True(await sender.PumpAsync(publisher));
            }

            // Read every delivery but acknowledge none, then lose the connection.
            for (var i = 0; i < Count; i++)
            {
                Assert.Equal(WirePacket.Publish, (await first.ReadAsync()).Type);
            }

            proxy.CutAll();
        }

        await using var resumed = await WireClient.ConnectAsync(proxy.Port, "resumer", version, clean: false, sessionExpiry: 600);
        Assert.True(resumed.SessionPresent);
        var again = new List<WirePublish>();
        for (var i = 0; i < Count; i++)
        {
            var publish = resumed.ParsePublish(await resumed.ReadAsync());
            again.Add(publish);
            await resumed.AckAsync(WirePacket.PubAck, publish.PacketId);
        }

        Assert.Equal(Enumerable.Range(0, Count).Select(i => $"r{i}"), again.Select(p => p.Payload));
        Assert.All(again, p => Assert.True(p.Dup, "MQTT-3.3.1-1: a resent PUBLISH carries DUP=1"));
        Assert.Null(await resumed.TryReadAsync(TimeSpan.FromMilliseconds(300)));
    }
}
