using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 5 §4.13: a graceful stop tells MQTT 5 clients why (DISCONNECT 0x8B Server shutting down).</summary>
public sealed class V5ShutdownTests
{
    [Fact]
    public async Task Section_3_14_2_1_a_graceful_stop_sends_DISCONNECT_0x8B_to_v5_clients()
    {
        await using var broker = await BrokerProcess.StartAsync();
        await using var v5 = await V5Client.ConnectAcceptedAsync(broker.Port, TestNames.ClientId("v5"));
        await using var v311 = await RawMqttClient.ConnectAcceptedAsync(broker.Port, TestNames.ClientId("v3"));

        await broker.StopAsync();

        await v5.ExpectDisconnectAsync(0x8B);
        Assert.Empty(await v311.ExpectClosedAsync()); // a 3.1.1 server never sends DISCONNECT
    }
}
