using Cicada.Bridge.Tests.Infrastructure;
using static Cicada.Bridge.Tests.Infrastructure.BridgeConfig;

namespace Cicada.Bridge.Tests;

/// <summary>
/// QoS 1 across a restart of either side, and reconnection with back-off: the bridge's Core
/// session is persistent (outbound messages wait for the remote, on disk), its remote session is
/// persistent (inbound messages wait at the remote while Cicada is down).
/// </summary>
public sealed class RestartTests
{
    [Fact]
    public async Task Out_Qos1_PublishedWhileTheRemoteIsDown_ArriveAfterItComesBack_EvenAcrossACicadaRestart()
    {
        await using var remote = await MosquittoBroker.StartAsync(persistent: true);
        await using var cicada = await CicadaBroker.StartAsync(BridgeTo("q", remote.Port, "3.1.1", Topic("q/#", "out", 1, remotePrefix: "fromcicada/")));
        await cicada.WaitForLogAsync(Forwarding("q"));

        // A persistent subscriber at the remote that is offline when the messages come.
        var collector = "collector-" + Guid.NewGuid().ToString("N")[..8];
        await using (await MosquittoClients.SubscribeAsync(remote.Port, "fromcicada/q/#", clientId: collector, persistent: true))
        {
        }

        await remote.StopAsync();
        await cicada.WaitForLogAsync("Bridge q disconnected from");
        for (var i = 1; i <= 5; i++)
        {
            await MosquittoClients.PublishAsync(cicada.Port, "q/n", $"m{i}");
        }

        // Queued in the bridge's persistent Core session: they survive Cicada's restart too.
        await cicada.StopAsync();
        await cicada.StartAsync();
        await remote.StartAsync();
        await cicada.WaitForLogAsync(Forwarding("q"), count: 2);

        await using var resumed = await MosquittoClients.SubscribeAsync(remote.Port, "fromcicada/q/#", clientId: collector, persistent: true);
        var messages = await resumed.WaitForAsync(5);
        Assert.Equal(["m1", "m2", "m3", "m4", "m5"], messages.Select(m => m.Payload));
        Assert.All(messages, m => Assert.Equal("fromcicada/q/n", m.Topic));
    }

    [Fact]
    public async Task In_Qos1_PublishedWhileCicadaIsDown_ArriveAfterItRestarts_AndTheBridgeReconnectsAfterTheRemoteRestarts()
    {
        await using var remote = await MosquittoBroker.StartAsync();
        await using var cicada = await CicadaBroker.StartAsync(BridgeTo("r", remote.Port, "5", Topic("dev/#", "both", 1, localPrefix: "local/")));
        await cicada.WaitForLogAsync(Forwarding("r"));
        var app = "app-" + Guid.NewGuid().ToString("N")[..8];
        await using (await MosquittoClients.SubscribeAsync(cicada.Port, "local/dev/#", clientId: app, persistent: true))
        {
        }

        await cicada.StopAsync();
        for (var i = 1; i <= 3; i++)
        {
            // Queued at the remote for the bridge's persistent session (Session Expiry never).
            await MosquittoClients.PublishAsync(remote.Port, "dev/t", $"in{i}");
        }

        await cicada.StartAsync();
        await using var local = await MosquittoClients.SubscribeAsync(cicada.Port, "local/dev/#", clientId: app, persistent: true);
        var messages = await local.WaitForAsync(3);
        Assert.Equal(["in1", "in2", "in3"], messages.Select(m => m.Payload));
        Assert.All(messages, m => Assert.Equal("local/dev/t", m.Topic));

        // The remote goes away and comes back empty (no persistence): the bridge reconnects,
        // subscribes again and forwards both ways.
        await cicada.WaitForLogAsync(Forwarding("r"), count: 2);
        await remote.StopAsync();
        await cicada.WaitForLogAsync("Bridge r disconnected from");
        await remote.StartAsync();
        await cicada.WaitForLogAsync(Forwarding("r"), count: 3);
        await MosquittoClients.PublishAsync(remote.Port, "dev/t", "after-restart");
        await local.WaitForPayloadAsync("after-restart");

        await using var far = await MosquittoClients.SubscribeAsync(remote.Port, "dev/#");
        await MosquittoClients.PublishAsync(cicada.Port, "local/dev/t", "outbound-after-restart");
        await far.WaitForPayloadAsync("outbound-after-restart");
        Assert.Contains(cicada.Lines, l => l.Contains("Bridge r disconnected from 127.0.0.1", StringComparison.Ordinal)
            && l.Contains("the remote closed the connection", StringComparison.Ordinal));
    }
}
