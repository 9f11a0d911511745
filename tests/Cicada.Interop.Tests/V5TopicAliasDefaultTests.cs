using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>
/// Sending topic aliases is the server's choice (MQTT 5 §3.3.2.3.4); Cicada does not by default,
/// because common client libraries cannot resolve them (Mqtt:OutboundTopicAliases turns it on).
/// </summary>
public sealed class V5TopicAliasDefaultTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Fact]
    public async Task Section_3_3_2_3_4_by_default_no_aliases_are_sent_even_when_the_client_allows_them()
    {
        var topic = TestNames.Topic("default");
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port,
            new V5Connect { ClientId = TestNames.ClientId("sub"), TopicAliasMaximum = 10 });
        await subscriber.SubscribeV5Async(topic);
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));

        for (var i = 0; i < 3; i++)
        {
            await publisher.PublishV5Async(topic, $"m{i}", 1);
        }

        for (var i = 0; i < 3; i++)
        {
            var p = await subscriber.ReceiveV5Async();
            Assert.Equal(topic, p.Topic);
            Assert.Null(p.TopicAlias);
        }
    }
}
