namespace Cicada.Amqp.Tests;

/// <summary>pika (Debian python3-pika) against the real server: each scenario in clients/pika_scenarios.py asserts RabbitMQ's behaviour.</summary>
public sealed class PikaInteropTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private async Task RunAsync(string scenario)
    {
        var server = fixture.Server;
        var (code, output, error) = await Tool.RunAsync("/usr/bin/python3",
            [Path.Combine(Paths.Clients, "pika_scenarios.py"), scenario, server.AmqpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                server.MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.True(code == 0 && output.Contains("OK", StringComparison.Ordinal),
            $"pika scenario {scenario} failed ({code}):\n{output}\n{error}\n--- server ---\n{server.Output}");
    }

    [Fact]
    public Task Basic_PropertiesAreKeptEndToEnd() => RunAsync("properties_end_to_end");

    [Fact]
    public Task Basic_ConsumeAck_PublisherConfirms_MandatoryReturn312() => RunAsync("consume_ack_and_confirm");

    [Fact]
    public Task Basic_AckNackRejectRecover_RequeueAndMultiple() => RunAsync("ack_nack_reject_requeue");

    [Fact]
    public Task Basic_Qos_PrefetchCountLimitsUnacknowledged() => RunAsync("prefetch");

    [Fact]
    public Task Exchanges_FanoutTopicHeaders_Bindings_Purge_Delete() => RunAsync("exchanges_and_queues");

    [Fact]
    public Task Errors_404_403_405_406_AndChannelErrorsCloseOnlyTheChannel() => RunAsync("error_codes");

    [Fact]
    public Task Basic_Cancel_IsNotifiedWhenTheQueueIsDeleted() => RunAsync("consumer_cancel_notify");

    [Fact]
    public Task CrossProtocol_MqttPublish_ReachesQueueBoundToAmqTopic() => RunAsync("mqtt_to_amqp");

    [Fact]
    public Task CrossProtocol_AmqpPublishToAmqTopic_ReachesMqttSubscriber() => RunAsync("amqp_to_mqtt");

    [Fact]
    public Task Connection_Heartbeats_KeepAnIdleConnectionOpen() => RunAsync("heartbeat");
}
