using Cicada.Bridge.Tests.Infrastructure;
using static Cicada.Bridge.Tests.Infrastructure.BridgeConfig;

namespace Cicada.Bridge.Tests;

/// <summary>
/// The bridge against a real mosquitto: <c>out</c> and <c>in</c> patterns with mosquitto's prefix
/// semantics (mosquitto.conf(5) <c>topic pattern direction qos local-prefix remote-prefix</c>).
/// </summary>
public sealed class BridgeDirectionTests
{
    [Fact]
    public async Task Out_PublishOnCicada_ArrivesAtTheRemote_WithTheRemotePrefixInsteadOfTheLocalOne()
    {
        await using var remote = await MosquittoBroker.StartAsync();
        await using var cicada = await CicadaBroker.StartAsync(
            BridgeTo("up", remote.Port, "3.1.1", Topic("sensors/#", "out", 1, localPrefix: "site/", remotePrefix: "cloud/site1/")));
        await cicada.WaitForLogAsync(Forwarding("up"));
        await using var seen = await MosquittoClients.SubscribeAsync(remote.Port, "#");

        // Outside the pattern: stays local. Sent first, so it would arrive first if it leaked.
        await MosquittoClients.PublishAsync(cicada.Port, "site/other/x", "not bridged");
        await MosquittoClients.PublishAsync(cicada.Port, "site/sensors/t1", "21.5");
        await MosquittoClients.PublishAsync(cicada.Port, "site/sensors/room/2/h", "40", qos: 0);

        var messages = await seen.WaitForAsync(2);
        Assert.Equal(
            [new Received("cloud/site1/sensors/t1", "21.5", 1, false), new Received("cloud/site1/sensors/room/2/h", "40", 0, false)],
            messages);
    }

    [Fact]
    public async Task In_PublishAtTheRemote_ArrivesAtACicadaSubscriber_WithTheLocalPrefix()
    {
        await using var remote = await MosquittoBroker.StartAsync();
        await using var cicada = await CicadaBroker.StartAsync(
            BridgeTo("down", remote.Port, "5", Topic("cmd/#", "in", 1, localPrefix: "home/", remotePrefix: "cloud/home/")));
        await cicada.WaitForLogAsync(Forwarding("down"));
        await using var seen = await MosquittoClients.SubscribeAsync(cicada.Port, "home/#");

        await MosquittoClients.PublishAsync(remote.Port, "cloud/other/cmd/x", "not bridged");
        await MosquittoClients.PublishAsync(remote.Port, "cloud/home/cmd/light", "on");

        var messages = await seen.WaitForAsync(1);
        Assert.Equal([new Received("home/cmd/light", "on", 1, false)], messages);
    }

    [Fact]
    public async Task In_EmptyPattern_RenamesOneTopic()
    {
        await using var remote = await MosquittoBroker.StartAsync();
        await using var cicada = await CicadaBroker.StartAsync(
            BridgeTo("one", remote.Port, "3.1.1", Topic("", "in", 0, localPrefix: "kitchen/temp", remotePrefix: "legacy/sensor7")));
        await cicada.WaitForLogAsync(Forwarding("one"));
        await using var seen = await MosquittoClients.SubscribeAsync(cicada.Port, "kitchen/#");

        await MosquittoClients.PublishAsync(remote.Port, "legacy/sensor7", "19", qos: 0);

        Assert.Equal([new Received("kitchen/temp", "19", 0, false)], await seen.WaitForAsync(1));
    }
}
