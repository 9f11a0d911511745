using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>
/// MQTT 5 §3.2.2.3.14 Server Keep Alive, with Mqtt:MaxKeepAliveSeconds = 60 (what paho's
/// client_test5 `test_server_keep_alive` expects of its test broker).
/// </summary>
public sealed class V5ServerKeepAliveTests(KeepAliveCapBrokerFixture fixture) : IClassFixture<KeepAliveCapBrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Theory]
    [InlineData(120)]
    [InlineData(0)] // "no keep-alive" is longer than any maximum
    public async Task Section_3_2_2_3_14_a_keep_alive_over_the_maximum_is_replaced_and_announced_as_Server_Keep_Alive(int keepAlive)
    {
        var (client, connAck) = await V5Client.ConnectAsync(_port, new V5Connect { ClientId = TestNames.ClientId("ka"), KeepAlive = (ushort)keepAlive });
        await using var _ = client;

        Assert.Equal(0, connAck.Reason);
        Assert.Equal((ushort)KeepAliveCapBrokerFixture.MaxKeepAliveSeconds, connAck.Properties.Get<ushort?>(Prop.ServerKeepAlive));
    }

    [Fact]
    public async Task MQTT_3_2_2_22_a_keep_alive_within_the_maximum_is_kept_and_no_Server_Keep_Alive_is_sent()
    {
        var (client, connAck) = await V5Client.ConnectAsync(_port, new V5Connect { ClientId = TestNames.ClientId("ka"), KeepAlive = 30 });
        await using var _ = client;

        Assert.Equal(0, connAck.Reason);
        Assert.False(connAck.Properties.Has(Prop.ServerKeepAlive));
    }
}
