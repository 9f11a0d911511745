using System.Globalization;
using System.Net.Http;
using Cicada.Security.Tests.Infrastructure;

namespace Cicada.Security.Tests;

/// <summary>
/// Issue 9: every limit has a metric and a log line when hit. The size and time limits of the
/// protocol sections count in <c>cicada_limits_exceeded_total{limit=…}</c> like the <c>Limits</c>
/// section's own, and log one line: "refused by limit …", or the edge's own protocol error where
/// the limit closes the connection with one (MQTT packet size, AMQP frame size).
/// </summary>
public sealed class LimitMetricsTests
{
    [Fact]
    public async Task PacketSize_InFlight_FrameSize_AndConnectTimeout_AreCountedAndLogged()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            AllEdges = true,
            Configuration = new Dictionary<string, string>
            {
                ["Mqtt:MaxPacketSize"] = "1024",
                ["Broker:ConnectTimeoutSeconds"] = "1",
                ["Mqtt:ReceiveMaximum"] = "2",
            },
        });

        // MQTT-3.1.0-1 timing: a connection that never sends CONNECT is closed after the timeout.
        var silent = await RawWire.TcpAsync(broker.Port, []);
        Assert.True(silent.Closed);
        await broker.WaitForLogAsync("refused by limit connect-timeout");

        // MQTT 5 §3.2.2.3.6 / Mqtt:MaxPacketSize: a PUBLISH of 2000 bytes closes the connection.
        await using (var client = await RawMqttClient.ConnectAcceptedAsync(broker.Port, "limit-packet"))
        {
            await client.SendIgnoringErrorsAsync(MqttPackets.Publish("limits/big", new byte[2000]));
            await client.ExpectClosedAsync();
        }

        await broker.WaitForLogAsync("MQTT-3.2.2-15"); // the edge's own line; the limit is counted, not logged twice

        // MQTT 5 §3.3.4 in-flight limit (Mqtt:ReceiveMaximum 2): a third unacknowledged QoS 2
        // publish (never PUBREL'd) is DISCONNECT 0x93.
        await using (var v5 = await RawMqttClient.OpenAsync(broker.Port))
        {
            await v5.SendAsync(V5Packets.Connect(new V5Connect { ClientId = "limit-inflight" }));
            await v5.ReadPacketAsync(PacketType.ConnAck);
            var burst = new List<byte>();
            for (var id = 1; id <= 3; id++)
            {
                burst.AddRange(V5Packets.Publish("limits/inflight", "x", qos: 2, packetId: (ushort)id));
            }

            await v5.SendIgnoringErrorsAsync([.. burst]);
            var packets = await v5.ExpectClosedAsync();
            Assert.Equal(0x93, packets[^1].DisconnectReason());
        }

        await broker.WaitForLogAsync("Receive Maximum exceeded");

        // AMQP 0-9-1 §4.2.3: before tune-ok frame-max is 4096; a frame announcing 1 MiB is a 501.
        var amqp = await RawWire.TcpAsync(broker.AmqpPort, [AmqpWire.ProtocolHeader, [1, 0, 0, 0, 0x10, 0, 0]], reply: AmqpWire.CloseOkWhenClosed);
        Assert.Equal(501, AmqpWire.CloseCode(amqp.Received));
        await broker.WaitForLogAsync("closed with 501");

        using var http = new HttpClient { Timeout = Timeouts.Packet };
        var metrics = await http.GetStringAsync($"http://127.0.0.1:{SecureBroker.Invariant(broker.HttpPort)}/metrics");
        foreach (var limit in new[] { "connect-timeout", "packet-size", "receive-maximum", "frame-size" })
        {
            var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("cicada_limits_exceeded_total{", StringComparison.Ordinal)
                && l.Contains($"limit=\"{limit}\"", StringComparison.Ordinal));
            Assert.True(line is not null, $"no cicada_limits_exceeded_total for {limit} in:\n{metrics}");
            Assert.True(double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture) >= 1, line);
        }
    }

    [Fact]
    public async Task AmqpMessageSize_AndCoapBodySize_AreCountedAndLogged()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            AllEdges = true,
            Configuration = new Dictionary<string, string>
            {
                ["Amqp:MaxMessageSize"] = "1024",
                ["Coap:MaxBodySize"] = "64",
            },
        });

        // RFC 7252 §5.9.2.9 / RFC 7959 §2.9.3: a body over Coap:MaxBodySize is 4.13.
        var (answer, _) = await RawWire.UdpAsync(broker.CoapPort, CoapWire.Put(0x5151, "limits/coap", new byte[200]), Timeouts.Packet);
        Assert.NotNull(answer);
        Assert.Equal("4.13", CoapWire.Code(answer));
        await broker.WaitForLogAsync("refused by limit body-size");

        // A message over Amqp:MaxMessageSize: the channel closes with 406 PRECONDITION_FAILED
        // (RabbitMQ's max_message_size answer), announced by the content header's body size.
        var amqp = await RawWire.TcpAsync(broker.AmqpPort,
            [.. AmqpWire.Handshake(), AmqpWire.ChannelOpen(1), .. AmqpWire.Publish(1, "limits.amqp", new byte[2000])],
            done: received => AmqpWire.Frames(received).Any(f => f.Type == 1 && f.Channel == 1 && f.Payload.Length >= 6
                && f.Payload[1] == 20 && f.Payload[3] == 40));
        var channelClose = AmqpWire.Frames(amqp.Received).Single(f => f.Type == 1 && f.Channel == 1 && f.Payload[1] == 20 && f.Payload[3] == 40);
        Assert.Equal(406, (channelClose.Payload[4] << 8) | channelClose.Payload[5]);
        await broker.WaitForLogAsync("refused by limit message-size");

        using var http = new HttpClient { Timeout = Timeouts.Packet };
        var metrics = await http.GetStringAsync($"http://127.0.0.1:{SecureBroker.Invariant(broker.HttpPort)}/metrics");
        foreach (var limit in new[] { "body-size", "message-size" })
        {
            Assert.Contains(metrics.Split('\n'), l => l.StartsWith("cicada_limits_exceeded_total{", StringComparison.Ordinal)
                && l.Contains($"limit=\"{limit}\"", StringComparison.Ordinal) && !l.EndsWith(" 0", StringComparison.Ordinal));
        }
    }
}
