using Cicada.Fault.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Cicada.Fault.Tests;

/// <summary>
/// <c>kill -9</c> at seeded random points of QoS 1/2 flows, then a restart on the same SQLite data
/// folder. The promise (DESIGN.md "Durability"): a message PUBACKed/PUBRECed while a persistent
/// session subscribes is on disk before the ack, so it arrives after any crash; QoS 2 arrives
/// exactly once (MQTT-4.3.3, the broker keeps the packet-id state of both directions in the
/// session, MQTT-4.1.0-1); resent PUBLISHes carry DUP (MQTT-4.4.0-1). Each run crashes twice.
/// </summary>
public sealed class KillNineMqttTests(ITestOutputHelper output)
{
    private const int MessageCount = 300;
    private const uint Expiry = 3600;

    /// <summary>A persistent session subscribed to <paramref name="topic"/> and then gone: the broker queues for it across crashes.</summary>
    private static async Task SubscribeOfflineAsync(CicadaProcess server, string clientId, int version, string topic, int qos)
    {
        await using var subscriber = await WireClient.ConnectAsync(server.MqttPort, clientId, version, clean: false, sessionExpiry: Expiry);
        await subscriber.SubscribeAsync(topic, qos);
        await subscriber.DisconnectAsync();
    }

    [Theory]
    [InlineData(4, 1, 11)]
    [InlineData(4, 2, 12)]
    [InlineData(5, 1, 13)]
    [InlineData(5, 2, 14)]
    public async Task Publisher_side_crash_loses_no_acknowledged_message_MQTT_4_3(int version, int qos, int seed)
    {
        var random = new Random(seed);
        var killPoints = KillPoints(random, MessageCount);
        await using var server = await CicadaProcess.StartAsync();
        var topic = $"fault/{Guid.NewGuid():N}";
        var subscriberId = $"sub-{seed}";
        await SubscribeOfflineAsync(server, subscriberId, version, topic, qos);

        await PublishRetainedAsync(server.MqttPort, version, topic + "/retained", "kept");

        var payloads = Enumerable.Range(0, MessageCount).Select(i => $"m{i:D4}").ToList();
        var sender = new MqttSender(topic, qos, payloads);
        var crashes = 0;
        var connections = 0;
        while (!sender.Done)
        {
            await using var publisher = await WireClient.ConnectAsync(server.MqttPort, $"pub-{seed}", version, clean: false, sessionExpiry: Expiry);
            connections++;
            Assert.True(connections == 1 || publisher.SessionPresent, "The publisher's session did not survive kill -9.");
            await sender.ResumeAsync(publisher);
            var stopAt = crashes < killPoints.Length ? killPoints[crashes] : int.MaxValue;
            if (!await sender.PumpAsync(publisher, stopAt, server.KillAsync))
            {
                crashes++;
                await server.StartAsync();
            }
        }

        var acknowledgedAtCrash = sender.Acknowledged.Count;
        var receiver = new MqttReceiver();
        await using (var subscriber = await WireClient.ConnectAsync(server.MqttPort, subscriberId, version, clean: false, sessionExpiry: Expiry))
        {
            Assert.True(subscriber.SessionPresent, $"The subscriber's session did not survive kill -9.\n{server.Output}");
            await ReceiveAsync(subscriber, receiver, payloads.Count);
        }

        output.WriteLine($"v{version} QoS {qos}: {crashes} crashes at acks {string.Join(", ", killPoints)}; " +
            $"{acknowledgedAtCrash} acknowledged, {receiver.Delivered.Count} delivered ({receiver.Delivered.Distinct().Count()} distinct)");
        AssertDelivered(payloads, receiver.Delivered, qos);
        await AssertRetainedAsync(server.MqttPort, version, topic + "/retained", "kept");
    }

    [Theory]
    [InlineData(4, 1, 21)]
    [InlineData(4, 2, 22)]
    [InlineData(5, 1, 23)]
    [InlineData(5, 2, 24)]
    public async Task Subscriber_side_crash_resends_in_flight_and_keeps_QoS2_exactly_once_MQTT_4_4_0_1(int version, int qos, int seed)
    {
        var random = new Random(seed);
        var killPoints = KillPoints(random, MessageCount);
        await using var server = await CicadaProcess.StartAsync();
        var topic = $"fault/{Guid.NewGuid():N}";
        var subscriberId = $"sub-{seed}";
        await SubscribeOfflineAsync(server, subscriberId, version, topic, qos);

        var payloads = Enumerable.Range(0, MessageCount).Select(i => $"s{i:D4}").ToList();
        var sender = new MqttSender(topic, qos, payloads);
        await using (var publisher = await WireClient.ConnectAsync(server.MqttPort, $"pub-{seed}", version))
        {
            Assert.True(await sender.PumpAsync(publisher));
        }

        await PublishRetainedAsync(server.MqttPort, version, topic + "/retained", "kept");

        var receiver = new MqttReceiver();
        var crashes = 0;

        // Duplicates-after-crash figure: messages whose PUBACK/PUBREC the client had sent before the
        // kill and that the restarted broker sends again (the removal is group-committed behind the ack).
        var ackedBeforeKill = new HashSet<string>();
        var resentAfterAck = 0;
        while (receiver.Delivered.Distinct().Count() < payloads.Count)
        {
            await using var subscriber = await WireClient.ConnectAsync(server.MqttPort, subscriberId, version, clean: false, sessionExpiry: Expiry);
            Assert.True(subscriber.SessionPresent, $"The subscriber's session did not survive kill -9.\n{server.Output}");
            var stopAt = crashes < killPoints.Length ? killPoints[crashes] : int.MaxValue;
            var roundStart = receiver.Delivered.Count;
            if (stopAt == int.MaxValue)
            {
                await ReceiveAsync(subscriber, receiver, payloads.Count);
                resentAfterAck += receiver.Delivered.Skip(roundStart).Count(ackedBeforeKill.Contains);
                break;
            }

            var killed = false;
            while (true)
            {
                var packet = await subscriber.TryReadAsync(TimeSpan.FromSeconds(15));
                if (packet is null)
                {
                    break;
                }

                await receiver.HandleAsync(subscriber, packet);
                if (!killed && receiver.Delivered.Count >= stopAt)
                {
                    killed = true;
                    resentAfterAck += receiver.Delivered.Skip(roundStart).Count(ackedBeforeKill.Contains);
                    ackedBeforeKill.UnionWith(receiver.Delivered);
                    await server.KillAsync();
                }
            }

            Assert.True(killed, $"The subscriber stopped receiving after {receiver.Delivered.Count} messages.\n{server.Output}");
            crashes++;
            await server.StartAsync();
        }

        output.WriteLine($"v{version} QoS {qos}: {crashes} crashes at deliveries {string.Join(", ", killPoints)}; " +
            $"{sender.Acknowledged.Count} acknowledged, {receiver.Delivered.Count} delivered ({receiver.Delivered.Distinct().Count()} distinct); " +
            $"{resentAfterAck} of the {ackedBeforeKill.Count} the client had acknowledged before a kill were sent again");
        AssertDelivered(payloads, receiver.Delivered, qos);
        await AssertRetainedAsync(server.MqttPort, version, topic + "/retained", "kept");
    }

    /// <summary>Two increasing kill points, seeded, so a failure replays exactly.</summary>
    private static int[] KillPoints(Random random, int count)
    {
        var first = random.Next(5, count / 2);
        return [first, random.Next(first + 5, count - 5)];
    }

    internal static async Task ReceiveAsync(WireClient client, MqttReceiver receiver, int expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (receiver.Delivered.Distinct().Count() < expected && DateTime.UtcNow < deadline)
        {
            var packet = await client.TryReadAsync(TimeSpan.FromSeconds(10));
            if (packet is null)
            {
                break;
            }

            await receiver.HandleAsync(client, packet);
        }

        // A duplicate would arrive right behind the full set; listen a little longer for it.
        while (await client.TryReadAsync(TimeSpan.FromMilliseconds(500)) is { } late)
        {
            await receiver.HandleAsync(client, late);
        }
    }

    internal static void AssertDelivered(IReadOnlyList<string> expected, List<string> delivered, int qos)
    {
        var missing = expected.Except(delivered).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} messages lost: {string.Join(", ", missing.Take(20))}");
        if (qos == 2)
        {
            var duplicates = delivered.GroupBy(p => p).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            Assert.True(duplicates.Count == 0, $"QoS 2 delivered {duplicates.Count} messages twice: {string.Join(", ", duplicates.Take(20))}");
        }
    }

    internal static async Task PublishRetainedAsync(int port, int version, string topic, string payload)
    {
        await using var client = await WireClient.ConnectAsync(port, $"ret-{Guid.NewGuid():N}"[..20], version);
        await client.PublishAsync(topic, payload, 1, packetId: 1, retain: true);
        var ack = await client.ReadAsync();
        Assert.Equal(WirePacket.PubAck, ack.Type);
    }

    internal static async Task AssertRetainedAsync(int port, int version, string topic, string payload)
    {
        await using var client = await WireClient.ConnectAsync(port, $"chk-{Guid.NewGuid():N}"[..20], version);
        await client.SubscribeAsync(topic, 1);
        var packet = await client.ReadAsync(Timeouts.Packet);
        var publish = client.ParsePublish(packet);
        Assert.Equal((topic, payload, true), (publish.Topic, publish.Payload, publish.Retain));
    }
}
