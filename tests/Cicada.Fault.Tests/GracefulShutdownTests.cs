using System.Net.Sockets;
using Cicada.Fault.Tests.Infrastructure;

namespace Cicada.Fault.Tests;

/// <summary>SIGTERM: listeners stop, MQTT 5 clients are told why, state is kept, the process exits 0 in time.</summary>
public sealed class GracefulShutdownTests
{
    [Fact]
    public async Task SIGTERM_sends_v5_DISCONNECT_0x8B_exits_0_and_keeps_queued_messages_MQTT_3_14_2_1()
    {
        await using var server = await CicadaProcess.StartAsync();
        var topic = $"stop/{Guid.NewGuid():N}";
        await using (var subscriber = await WireClient.ConnectAsync(server.MqttPort, "stop-sub", 4, clean: false))
        {
            await subscriber.SubscribeAsync(topic, 1);
            await subscriber.DisconnectAsync();
        }

        var payloads = Enumerable.Range(0, 100).Select(i => $"q{i}").ToList();
        await using (var publisher = await WireClient.ConnectAsync(server.MqttPort, "stop-pub", 4))
        {
            Assert.True(await new MqttSender(topic, 1, payloads).PumpAsync(publisher));
        }

        await using var v5 = await WireClient.ConnectAsync(server.MqttPort, "stop-v5", 5);
        var (exitCode, elapsed) = await server.TerminateAsync(TimeSpan.FromSeconds(15));

        var disconnect = await v5.ReadAsync();
        Assert.Equal(WirePacket.Disconnect, disconnect.Type);
        Assert.Equal(0x8B, disconnect.Body[0]); // Server shutting down
        Assert.Equal(0, exitCode);
        Assert.True(elapsed < TimeSpan.FromSeconds(10), $"Graceful stop took {elapsed}.");
        await Assert.ThrowsAnyAsync<SocketException>(async () =>
        {
            using var probe = new TcpClient();
            await probe.ConnectAsync("127.0.0.1", server.MqttPort);
        });

        await server.StartAsync();
        var receiver = new MqttReceiver();
        await using (var subscriber = await WireClient.ConnectAsync(server.MqttPort, "stop-sub", 4, clean: false))
        {
            Assert.True(subscriber.SessionPresent);
            await KillNineMqttTests.ReceiveAsync(subscriber, receiver, payloads.Count);
        }

        KillNineMqttTests.AssertDelivered(payloads, receiver.Delivered, qos: 1);
    }
}
