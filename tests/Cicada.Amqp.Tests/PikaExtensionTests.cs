namespace Cicada.Amqp.Tests;

/// <summary>pika against the real server: tx (AMQP 0-9-1 §1.9) and RabbitMQ's extensions, scenarios in clients/pika_extensions.py.</summary>
public sealed class PikaExtensionTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private async Task RunAsync(string scenario)
    {
        var server = fixture.Server;
        var (code, output, error) = await Tool.RunAsync("/usr/bin/python3",
            [Path.Combine(Paths.Clients, "pika_extensions.py"), scenario, server.AmqpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                server.MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.True(code == 0 && output.Contains("OK", StringComparison.Ordinal),
            $"pika scenario {scenario} failed ({code}):\n{output}\n{error}\n--- server ---\n{server.Output}");
    }

    [Fact]
    public Task Tx_1_9_PublishesAndAcks_TakeEffectAtCommit_AndRollbackDiscardsThem() => RunAsync("tx_commit_and_rollback");

    [Fact]
    public Task Tx_AndConfirmSelect_ExcludeEachOther_406_AsRabbitMq() => RunAsync("tx_and_confirm_exclude_each_other");

    [Fact]
    public Task ExchangeBind_RabbitExtension_RoutesThroughBindings_CycleSafe_AndUnbinds() => RunAsync("exchange_to_exchange");

    [Fact]
    public Task ExchangeBind_ToAmqTopic_ReachesMqttSubscribers() => RunAsync("exchange_to_amq_topic_reaches_mqtt");

    [Fact]
    public Task XMessageTtl_AndExpirationProperty_ExpiredMessagesAreNeverDelivered() => RunAsync("message_ttl");

    [Fact]
    public Task XMaxLength_DropHead_KeepsTheNewest() => RunAsync("max_length_drop_head");

    [Fact]
    public Task XMaxLength_XOverflowRejectPublish_NacksTheConfirmingPublisher() => RunAsync("max_length_reject_publish");

    [Fact]
    public Task XExpires_UnusedQueueIsDeleted() => RunAsync("queue_expires");

    [Fact]
    public Task QueueArguments_InvalidOrInequivalent_Are406PreconditionFailed() => RunAsync("invalid_arguments_are_406");
}
