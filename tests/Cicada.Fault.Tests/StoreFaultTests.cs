using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Cicada.Fault.Tests.Infrastructure;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Xunit.Abstractions;

namespace Cicada.Fault.Tests;

/// <summary>
/// The data folder turns read-only, or another process holds the database's lock past the busy
/// timeout, under a running broker. Every protocol refuses new durable work with its own error —
/// MQTT 5 PUBACK 0x80 (§3.4.2.1), MQTT 3.1.1 a closed connection and no PUBACK (it has no error
/// code, so the client resends), AMQP basic.nack on a confirm channel, CoAP 5.03 (RFC 7252
/// §5.9.3.4), HTTP 503 (RFC 9110 §15.6.4) — instead of acknowledging what a crash would lose. The
/// broker logs the fault once, stays up, and takes durable work again once the fault clears;
/// everything it acknowledged arrives (DESIGN.md "Errors": never lost acknowledged data).
/// </summary>
public sealed class StoreFaultTests(ITestOutputHelper output)
{
    private const string FaultStarted = "durable work is refused";
    private const string FaultEnded = "writes succeed again after";

    [SkippableTheory]
    [InlineData("read-only")]
    [InlineData("locked")]
    public async Task Store_fault_refuses_durable_work_in_every_protocol_and_recovers(string kind)
    {
        await using var server = await CicadaProcess.StartAsync(new ServerSettings
        {
            Http = true,
            Amqp = true,
            Coap = true,
            Environment = new Dictionary<string, string> { ["CICADA_STORAGE__BUSYTIMEOUTSECONDS"] = "1" },
        });
        await using var fault = await StoreFault.TryCreateAsync(kind, server.DataDirectory);
        Skip.If(fault is null, "chattr +i does not work on this file system");

        // Durable work: a persistent MQTT session and a durable AMQP queue both take every message.
        var id = Guid.NewGuid().ToString("N");
        var topic = $"sf/{id}";
        await using (var subscriber = await WireClient.ConnectAsync(server.MqttPort, $"sf-sub-{id}"[..20], 5, clean: false, sessionExpiry: 3600))
        {
            await subscriber.SubscribeAsync(topic + "/#", 1);
            await subscriber.DisconnectAsync();
        }

        var queue = $"sf-{id}";
        await using var amqp = await ConfirmingPublisher.ConnectAsync(server.AmqpPort);
        await using var channel = await amqp.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(queue, "amq.topic", $"sf.{id}.#");

        await using var mqtt5 = await WireClient.ConnectAsync(server.MqttPort, $"sf-pub-{id}"[..20], 5);
        using var coap = new CoapWireClient(server.CoapPort);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var clients = new Clients(server, topic, id, mqtt5, channel, coap, http);
        var acknowledged = new List<string>();

        foreach (var protocol in Clients.Protocols)
        {
            var payload = $"before-{protocol}";
            Assert.True(await clients.PublishAsync(protocol, payload) == Outcome.Acknowledged, $"{protocol} refused before the fault.\n{server.Output}");
            acknowledged.Add(payload);
        }

        await fault.InjectAsync();
        var refusals = new List<string>();
        foreach (var protocol in Clients.Protocols)
        {
            var outcome = await clients.PublishAsync(protocol, $"during-{protocol}");
            refusals.Add($"{protocol}: {outcome}");
            Assert.True(outcome == Clients.Refusal(protocol), $"{protocol} answered {outcome} during the fault, not {Clients.Refusal(protocol)}.\n{server.Output}");
            Assert.False(server.HasExited, $"The broker died of the fault.\n{server.Output}");
        }

        await fault.ClearAsync();

        // Recovery: the first write after the fault clears succeeds; publish until one is acknowledged.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        var probes = 0;
        while (await clients.PublishAsync("mqtt5", $"probe-{++probes}") != Outcome.Acknowledged)
        {
            Assert.True(DateTime.UtcNow < deadline, $"Still refused 10 s after the fault cleared.\n{server.Output}");
            await Task.Delay(200);
        }

        acknowledged.Add($"probe-{probes}");
        foreach (var protocol in Clients.Protocols)
        {
            var payload = $"after-{protocol}";
            Assert.True(await clients.PublishAsync(protocol, payload) == Outcome.Acknowledged, $"{protocol} refused after the fault cleared.\n{server.Output}");
            acknowledged.Add(payload);
        }

        // One line when the fault starts, one when it ends: not one per refused message.
        await WaitForOutputAsync(server, FaultEnded);
        Assert.True(Count(server.Output, FaultStarted) == 1, $"'{FaultStarted}' not logged exactly once.\n{server.Output}");
        Assert.True(Count(server.Output, FaultEnded) == 1, $"'{FaultEnded}' not logged exactly once.\n{server.Output}");

        var receiver = new MqttReceiver();
        await using (var subscriber = await WireClient.ConnectAsync(server.MqttPort, $"sf-sub-{id}"[..20], 5, clean: false, sessionExpiry: 3600))
        {
            await KillNineMqttTests.ReceiveAsync(subscriber, receiver, acknowledged.Count);
        }

        var queued = (await AmqpDrain.AllAsync(server.AmqpPort, queue)).Select(t => t.Body).ToList();
        output.WriteLine($"{kind}: refused {string.Join(", ", refusals)}; {probes} probes to recover; {acknowledged.Count} acknowledged, " +
            $"{receiver.Delivered.Distinct().Count()} delivered over MQTT, {queued.Distinct().Count()} in the AMQP queue");
        KillNineMqttTests.AssertDelivered(acknowledged, receiver.Delivered, qos: 1);
        var missing = acknowledged.Except(queued).ToList();
        Assert.True(missing.Count == 0, $"Acknowledged messages missing from the durable AMQP queue: {string.Join(", ", missing)}");
    }

    private static int Count(string text, string line) => Regex.Matches(text, Regex.Escape(line)).Count;

    private static async Task WaitForOutputAsync(CicadaProcess server, string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!server.Output.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"The broker never logged '{text}'.\n{server.Output}");
            await Task.Delay(50);
        }
    }

    public enum Outcome
    {
        Acknowledged,
        Mqtt5Refused,
        ClosedWithoutAck,
        Nacked,
        Coap503,
        Http503,
        Other,
    }

    /// <summary>One publish per protocol, each reporting how the broker answered it.</summary>
    private sealed class Clients(CicadaProcess server, string topic, string id, WireClient mqtt5, IChannel channel, CoapWireClient coap, HttpClient http)
    {
        public static readonly string[] Protocols = ["mqtt5", "mqtt3", "amqp", "coap", "http"];

        private ushort _packetId;

        public static Outcome Refusal(string protocol) => protocol switch
        {
            "mqtt5" => Outcome.Mqtt5Refused,
            "mqtt3" => Outcome.ClosedWithoutAck,
            "amqp" => Outcome.Nacked,
            "coap" => Outcome.Coap503,
            _ => Outcome.Http503,
        };

        public async Task<Outcome> PublishAsync(string protocol, string payload)
        {
            switch (protocol)
            {
                case "mqtt5":
                    {
                        var packetId = ++_packetId;
                        await mqtt5.PublishAsync($"{topic}/mqtt5", payload, 1, packetId);
                        var ack = await mqtt5.ReadAsync(TimeSpan.FromSeconds(15));
                        Assert.Equal((WirePacket.PubAck, packetId), (ack.Type, ack.PacketId));
                        return ack.AckReason == 0 ? Outcome.Acknowledged : ack.AckReason == 0x80 ? Outcome.Mqtt5Refused : Outcome.Other;
                    }

                case "mqtt3":
                    {
                        await using var client = await WireClient.ConnectAsync(server.MqttPort, $"sf-v3-{id}"[..20], 4);
                        await client.PublishAsync($"{topic}/mqtt3", payload, 1, 1);
                        var ack = await client.TryReadAsync(TimeSpan.FromSeconds(15));
                        if (ack is null)
                        {
                            return client.Closed.IsCompleted ? Outcome.ClosedWithoutAck : Outcome.Other;
                        }

                        return ack.Type == WirePacket.PubAck && ack.PacketId == 1 ? Outcome.Acknowledged : Outcome.Other;
                    }

                case "amqp":
                    try
                    {
                        // Tracked confirms: completes on basic.ack, throws on basic.nack.
                        await channel.BasicPublishAsync("amq.topic", $"sf.{id}.amqp", mandatory: false,
                            new BasicProperties { Persistent = true }, Encoding.UTF8.GetBytes(payload));
                        return Outcome.Acknowledged;
                    }
                    catch (PublishException ex) when (!ex.IsReturn)
                    {
                        return Outcome.Nacked;
                    }

                case "coap":
                    {
                        var reply = await coap.RequestAsync(CoapWireClient.Post, $"ps/{topic}/coap", payload);
                        return reply?.Code switch
                        {
                            CoapReply.Changed => Outcome.Acknowledged,
                            CoapReply.ServiceUnavailable => Outcome.Coap503,
                            _ => Outcome.Other,
                        };
                    }

                default:
                    {
                        using var response = await http.PostAsync(new Uri($"http://127.0.0.1:{server.HttpPort}/api/v1/topics/{topic}/http?qos=1"), new StringContent(payload));
                        return response.StatusCode switch
                        {
                            HttpStatusCode.OK => Outcome.Acknowledged,
                            HttpStatusCode.ServiceUnavailable => Outcome.Http503,
                            _ => Outcome.Other,
                        };
                    }
            }
        }
    }
}
