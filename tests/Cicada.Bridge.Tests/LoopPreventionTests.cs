using Cicada.Bridge.Tests.Infrastructure;
using static Cicada.Bridge.Tests.Infrastructure.BridgeConfig;

namespace Cicada.Bridge.Tests;

/// <summary>
/// A <c>both</c> pattern must not loop: what came from the remote is not sent back (origin
/// marking + No Local on the bridge's Core subscription), and what the bridge sent is not taken
/// back in (MQTT 5: No Local at the remote, MQTT-3.8.3-3; 3.1.1: the echo check).
/// </summary>
public sealed class LoopPreventionTests
{
    [Theory]
    [InlineData("3.1.1")]
    [InlineData("5")]
    public async Task Both_EveryMessageArrivesExactlyOnceOnEachSide(string version)
    {
        await using var remote = await MosquittoBroker.StartAsync();
        await using var cicada = await CicadaBroker.StartAsync(BridgeTo("loop", remote.Port, version, Topic("shared/#", "both", 1)));
        await cicada.WaitForLogAsync(Forwarding("loop"));
        await using var local = await MosquittoClients.SubscribeAsync(cicada.Port, "shared/#");
        await using var far = await MosquittoClients.SubscribeAsync(remote.Port, "shared/#");

        for (var i = 1; i <= 3; i++)
        {
            await MosquittoClients.PublishAsync(cicada.Port, "shared/c", $"c{i}");
            await MosquittoClients.PublishAsync(remote.Port, "shared/m", $"m{i}");
        }

        await local.WaitForAsync(6);
        await far.WaitForAsync(6);

        // An echo would travel ahead of these on the same paths: remote → bridge → cicada for
        // end-m, cicada → bridge → remote for end-c. Once both are through, nothing else is coming.
        await MosquittoClients.PublishAsync(cicada.Port, "shared/c", "end-c");
        await MosquittoClients.PublishAsync(remote.Port, "shared/m", "end-m");
        foreach (var side in new[] { local, far })
        {
            await side.WaitForPayloadAsync("end-c");
            await side.WaitForPayloadAsync("end-m");
        }

        string[] expected = ["c1", "c2", "c3", "end-c", "end-m", "m1", "m2", "m3"];
        Assert.Equal(expected, local.Messages.Select(m => m.Payload).Order(StringComparer.Ordinal));
        Assert.Equal(expected, far.Messages.Select(m => m.Payload).Order(StringComparer.Ordinal));
    }
}
