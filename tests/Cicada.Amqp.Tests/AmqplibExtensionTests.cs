namespace Cicada.Amqp.Tests;

/// <summary>amqplib against the real server: RabbitMQ's extensions, scenarios in clients/amqplib_extensions.js.</summary>
public sealed class AmqplibExtensionTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private async Task RunAsync(string scenario)
    {
        await Tool.EnsureAmqplibAsync();
        var server = fixture.Server;
        var (code, output, error) = await Tool.RunAsync("node",
            [Path.Combine(Paths.Clients, "amqplib_extensions.js"), scenario, server.AmqpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                server.MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.True(code == 0 && output.Contains("OK", StringComparison.Ordinal),
            $"amqplib scenario {scenario} failed ({code}):\n{output}\n{error}\n--- server ---\n{server.Output}");
    }

    [Fact]
    public Task Confirms_ManyOutstanding_EachSettledOnce_WithCoalescedAcks() => RunAsync("confirmsManyOutstanding");

    [Fact]
    public Task ExchangeBind_TopicSourceToDirectDestination_AndUnbind() => RunAsync("exchangeBindings");

    [Fact]
    public Task XMaxLength_And_XMessageTtl_AreApplied() => RunAsync("queueLimits");
}
