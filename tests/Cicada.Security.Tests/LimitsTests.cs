using Cicada.Security.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Cicada.Security.Tests;

/// <summary>Configured limits (section <c>Limits</c>): each refuses with the protocol's own code and logs why.</summary>
public sealed class LimitsTests
{
    private static readonly MqttClientFactory Factory = new();

    private static async Task<IMqttClient> ConnectV5Async(int port, string clientId)
    {
        var client = Factory.CreateMqttClient();
        using var timeout = new CancellationTokenSource(Timeouts.Connect);
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(clientId)
            .WithProtocolVersion(MqttProtocolVersion.V500).Build(), timeout.Token);
        return client;
    }

    [Fact]
    public async Task MaxConnectionsPerIp_RefusesTheNextConnect_V311With0x03_V5With0x97_UntilOneCloses()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Configuration = new Dictionary<string, string> { ["Limits:MaxConnectionsPerIp"] = "2" },
        });

        await using var first = await RawMqttClient.ConnectAcceptedAsync(broker.Port, "first");
        var second = await RawMqttClient.ConnectAcceptedAsync(broker.Port, "second");

        var (third, connAck) = await RawMqttClient.ConnectAsync(broker.Port, new ConnectOptions { ClientId = "third" });
        await using (third)
        {
            Assert.Equal(0x03, connAck.ReturnCode); // MQTT-3.2.2.3: server unavailable
            await third.ExpectClosedAsync();
        }

        // MQTT 5 §3.2.2.2: CONNACK 0x97 Quota exceeded, which mosquitto_pub names.
        var refused = await Mosquitto.PublishAsync(broker.Port, "t", "x", "-V", "mqttv5", "-i", "fourth");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("Quota exceeded", refused.StandardError, StringComparison.OrdinalIgnoreCase);
        await broker.WaitForLogAsync("refused by limit max-connections-per-ip");

        await second.DisconnectAndWaitForCloseAsync();
        await second.DisposeAsync();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (true)
        {
            // The slot is free once the broker has seen the socket close.
            var (again, ack) = await RawMqttClient.ConnectAsync(broker.Port, new ConnectOptions { ClientId = "again" });
            await using (again)
            {
                if (ack.ReturnCode == 0)
                {
                    break;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, "the closed connection was never uncounted");
            await Task.Delay(100);
        }
    }

    private const string PikaTwoConnections = """
        import sys, pika
        params = pika.ConnectionParameters("127.0.0.1", int(sys.argv[1]), connection_attempts=1, socket_timeout=10)
        first = pika.BlockingConnection(params)
        try:
            second = pika.BlockingConnection(params)
            print("second accepted")
            second.close()
        except Exception as e:
            print("second refused", repr(e), repr(getattr(e, "args", None)))
        first.close()
        """;

    [Fact]
    public async Task MaxConnections_CountsEveryListener_MqttOverItGets0x03_AmqpOverItGets530()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            AllEdges = true,
            Configuration = new Dictionary<string, string> { ["Limits:MaxConnections"] = "2" },
        });

        await using var holder = await RawMqttClient.ConnectAcceptedAsync(broker.Port, "global-holder");

        // MQTT-3.2.2.3 0x03 server unavailable for the connection over Limits:MaxConnections.
        var second = await RawMqttClient.ConnectAcceptedAsync(broker.Port, "global-second");
        var (third, connAck) = await RawMqttClient.ConnectAsync(broker.Port, new ConnectOptions { ClientId = "global-third" });
        await using (third)
        {
            Assert.Equal(0x03, connAck.ReturnCode);
            await third.ExpectClosedAsync();
        }

        await second.DisconnectAndWaitForCloseAsync();
        await second.DisposeAsync();

        // One AMQP connection takes the second slot; the next is refused with connection.close 530
        // NOT_ALLOWED at start-ok (RabbitMQ's answer at its connection limit), which pika reports.
        string output;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var pika = await ExternalProcess.RunAsync("/usr/bin/python3", ["-c", PikaTwoConnections, SecureBroker.Invariant(broker.AmqpPort)],
                Timeouts.ExternalClient);
            output = string.Join('\n', pika.StandardOutput) + pika.StandardError;
            // The MQTT slot is free once the broker has seen that socket close (until then the first
            // pika connection is the one refused, and the script fails): retry until it has.
            if (pika.ExitCode == 0 || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.True(output.Contains("second refused", StringComparison.Ordinal), output);
        Assert.Contains("530", output, StringComparison.Ordinal);
        await broker.WaitForLogAsync("refused by limit max-connections");

        // Both AMQP connections have closed: their slots are free again (the lease is released).
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var (again, ack) = await RawMqttClient.ConnectAsync(broker.Port, new ConnectOptions { ClientId = "global-again" });
            await using (again)
            {
                if (ack.ReturnCode == 0)
                {
                    break;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, "the closed AMQP connection was never uncounted");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task MaxSubscriptionsAndTopicLevels_RefuseWithQuotaExceeded()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Configuration = new Dictionary<string, string>
            {
                ["Limits:MaxSubscriptionsPerClient"] = "2",
                ["Limits:MaxTopicLevels"] = "3",
            },
        });

        await using var v3 = await RawMqttClient.ConnectAcceptedAsync(broker.Port, "v3");
        Assert.Equal([0x00, 0x00, 0x80], (await v3.SubscribeAsync(("a", 0), ("b", 0), ("c", 0))).SubAckReturnCodes);
        Assert.Equal([0x01], (await v3.SubscribeAsync("a", 1)).SubAckReturnCodes); // replacing one is no new one

        using var v5 = await ConnectV5Async(broker.Port, "v5");
        var subscribed = await v5.SubscribeAsync(Factory.CreateSubscribeOptionsBuilder()
            .WithTopicFilter("x/y/#")
            .WithTopicFilter("x/y/z/#")
            .Build());
        Assert.Equal([MqttClientSubscribeResultCode.GrantedQoS0, MqttClientSubscribeResultCode.QuotaExceeded],
            subscribed.Items.Select(i => i.ResultCode));

        var published = await v5.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("x/y/z/w").WithPayload("deep")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.QuotaExceeded, published.ReasonCode);
        await broker.WaitForLogAsync("refused by limit max-topic-levels");
        await broker.WaitForLogAsync("refused by limit max-subscriptions");
    }
}
