namespace Cicada.Amqp.Tests;

/// <summary>amqplib (npm, installed by clients/install-amqplib.sh) against the real server.</summary>
public sealed class AmqplibInteropTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private async Task RunAsync(string scenario)
    {
        await Tool.EnsureAmqplibAsync();
        var server = fixture.Server;
        var (code, output, error) = await Tool.RunAsync("node",
            [Path.Combine(Paths.Clients, "amqplib_scenarios.js"), scenario, server.AmqpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                server.MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.True(code == 0 && output.Contains("OK", StringComparison.Ordinal),
            $"amqplib scenario {scenario} failed ({code}):\n{output}\n{error}\n--- server ---\n{server.Output}");
    }

    [Fact]
    public Task ConfirmChannel_PublishConsumeAck_KeepsOrderAndProperties() => RunAsync("confirmsConsumeAck");

    [Fact]
    public Task Prefetch_AndNackWithRequeue_Redelivers() => RunAsync("prefetchAndNack");

    [Fact]
    public Task AmqTopic_IsTheMqttTopicSpace_BothWays() => RunAsync("topicSpace");

    [Fact]
    public Task ChannelError_404_LeavesTheConnectionUsable() => RunAsync("errors");
}
