using System.Net;
using Cicada.Fault.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Cicada.Fault.Tests;

/// <summary>
/// Disk full under a running broker (a size-limited tmpfs as the data folder, filled by the test):
/// new durable work is refused with the protocol's own error instead of being acknowledged and
/// lost (DESIGN.md "Errors": never lost acknowledged data), the broker keeps running, and it
/// accepts durable work again once space returns. Everything acknowledged arrives.
/// </summary>
public sealed class DiskFaultTests(ITestOutputHelper output)
{
    private static readonly string Payload = new('x', 1024);

    [SkippableTheory]
    [InlineData(5)]
    [InlineData(4)]
    public async Task Disk_full_refuses_QoS1_publish_instead_of_acknowledging_and_recovers(int version)
    {
        await using var disk = await SmallDisk.TryCreateAsync(megabytes: 3);
        Skip.If(disk is null, "mount -t tmpfs is not allowed here (needs root)");
        await using var server = await CicadaProcess.StartAsync(new ServerSettings { DataDirectory = disk.Path, Http = true });
        var topic = $"disk/{Guid.NewGuid():N}";
        await using (var subscriber = await WireClient.ConnectAsync(server.MqttPort, "disk-sub", version, clean: false, sessionExpiry: 3600))
        {
            await subscriber.SubscribeAsync(topic, 1);
            await subscriber.DisconnectAsync();
        }

        var acknowledged = new List<string>();
        ushort id = 0;
        var publisher = await WireClient.ConnectAsync(server.MqttPort, "disk-pub", version);
        try
        {
            Assert.Equal(PublishOutcome.Acknowledged, await PublishAsync(publisher, topic, "before", ++id));
            acknowledged.Add("before");
            var filled = disk.Fill();

            // SQLite may still have room in pages it already owns; publish until it needs more.
            var refused = PublishOutcome.Acknowledged;
            var attempts = 0;
            while (refused == PublishOutcome.Acknowledged && attempts++ < 3000)
            {
                var payload = $"full-{attempts}-{Payload}";
                refused = await PublishAsync(publisher, topic, payload, ++id);
                if (refused == PublishOutcome.Acknowledged)
                {
                    acknowledged.Add(payload);
                }
            }

            output.WriteLine($"v{version}: filler {filled / 1024} KiB; {acknowledged.Count} acknowledged, then {refused} at attempt {attempts}");
            Assert.True(refused != PublishOutcome.Acknowledged, $"3000 QoS 1 messages acknowledged on a full disk.\n{server.Output}");
            Assert.Equal(version == 5 ? PublishOutcome.RefusedWithReason : PublishOutcome.ClosedWithoutAck, refused);
            Assert.False(server.HasExited, $"The broker died on a full disk.\n{server.Output}");
            Assert.Contains("SQLite store", server.Output, StringComparison.Ordinal);

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            using var httpResponse = await http.PostAsync(new Uri($"http://127.0.0.1:{server.HttpPort}/api/v1/topics/{topic}?qos=1"), new StringContent(Payload));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, httpResponse.StatusCode);

            disk.Free();
            if (version == 4)
            {
                await publisher.DisposeAsync();
                publisher = await WireClient.ConnectAsync(server.MqttPort, "disk-pub", version);
            }

            Assert.Equal(PublishOutcome.Acknowledged, await PublishAsync(publisher, topic, "after", ++id));
            acknowledged.Add("after");
        }
        finally
        {
            await publisher.DisposeAsync();
        }

        var receiver = new MqttReceiver();
        await using (var subscriber = await WireClient.ConnectAsync(server.MqttPort, "disk-sub", version, clean: false, sessionExpiry: 3600))
        {
            await KillNineMqttTests.ReceiveAsync(subscriber, receiver, acknowledged.Count);
        }

        output.WriteLine($"v{version}: {acknowledged.Count} acknowledged, {receiver.Delivered.Distinct().Count()} delivered");
        KillNineMqttTests.AssertDelivered(acknowledged, receiver.Delivered, qos: 1);
    }

    private enum PublishOutcome
    {
        Acknowledged,
        RefusedWithReason,
        ClosedWithoutAck,
    }

    private static async Task<PublishOutcome> PublishAsync(WireClient client, string topic, string payload, ushort id)
    {
        if (!await MqttReceiver.TrySendAsync(() => client.PublishAsync(topic, payload, 1, id)))
        {
            return PublishOutcome.ClosedWithoutAck;
        }

        var ack = await client.TryReadAsync(TimeSpan.FromSeconds(10));
        if (ack is null)
        {
            return PublishOutcome.ClosedWithoutAck;
        }

        Assert.Equal((WirePacket.PubAck, id), (ack.Type, ack.PacketId));
        return ack.AckReason >= 0x80 ? PublishOutcome.RefusedWithReason : PublishOutcome.Acknowledged;
    }
}
