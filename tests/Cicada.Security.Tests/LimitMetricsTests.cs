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
    public async Task PacketSize_FrameSize_AndConnectTimeout_AreCountedAndLogged()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            AllEdges = true,
            Configuration = new Dictionary<string, string>
            {
                ["Mqtt:MaxPacketSize"] = "1024",
                ["Broker:ConnectTimeoutSeconds"] = "1",
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

        // AMQP 0-9-1 §4.2.3: before tune-ok frame-max is 4096; a frame announcing 1 MiB is a 501.
        var amqp = await RawWire.TcpAsync(broker.AmqpPort, [AmqpWire.ProtocolHeader, [1, 0, 0, 0, 0x10, 0, 0]], reply: AmqpWire.CloseOkWhenClosed);
        Assert.Equal(501, AmqpWire.CloseCode(amqp.Received));
        await broker.WaitForLogAsync("closed with 501");

        using var http = new HttpClient { Timeout = Timeouts.Packet };
        var metrics = await http.GetStringAsync($"http://127.0.0.1:{SecureBroker.Invariant(broker.HttpPort)}/metrics");
        foreach (var limit in new[] { "connect-timeout", "packet-size", "frame-size" })
        {
            var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("cicada_limits_exceeded_total{", StringComparison.Ordinal)
                && l.Contains($"limit=\"{limit}\"", StringComparison.Ordinal));
            Assert.True(line is not null, $"no cicada_limits_exceeded_total for {limit} in:\n{metrics}");
            Assert.True(double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture) >= 1, line);
        }
    }
}
