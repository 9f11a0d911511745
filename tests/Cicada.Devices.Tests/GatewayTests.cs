using System.Globalization;
using Cicada.Devices.Tests.Support;

namespace Cicada.Devices.Tests;

/// <summary><c>/api/v1/gateways/{controller_gateway}/devices</c>: devices behind a gateway follow its connection.</summary>
public sealed class GatewayTests(DeviceBroker broker) : IClassFixture<DeviceBroker>
{
    [Fact]
    public async Task GatewayConnection_BringsItsDevicesOnline_AndItsLoss_MarksThemUnreachable()
    {
        var gateway = DeviceBroker.NewId("gw");
        var a = broker.Register(DeviceBroker.NewId("zigbee"), gateway);
        var b = broker.Register(DeviceBroker.NewId("zigbee"), gateway);
        broker.Register(DeviceBroker.NewId("other"), "another-gateway");
        using var events = await broker.SubscribeAsync("$devices/events");

        var url = $"{broker.BaseUrl}/api/v1/gateways/{gateway}/devices";
        var (_, list, _) = DeviceBroker.Send("GET", url);
        // Sorted by identifier (ordinal), as the registry lists them; the other gateway's device is not there.
        Assert.Equal(new[] { a, b }.Order(StringComparer.Ordinal), list.GetProperty("data").EnumerateArray().Select(d => d.GetProperty("identifier").GetString()!));
        Assert.False(list.GetProperty("gateway").GetProperty("online").GetBoolean());
        Assert.All(list.GetProperty("data").EnumerateArray(), d => Assert.False(d.GetProperty("online").GetBoolean()));

        using (Tools.Start("mosquitto_sub", ["-h", "127.0.0.1", "-p", broker.MqttPort.ToString(CultureInfo.InvariantCulture), "-i", gateway, "-t", "zigbee/#"]))
        {
            Assert.True(await DeviceBroker.WaitUntil(() => DeviceBroker.Send("GET", url).Json.GetProperty("gateway").GetProperty("online").GetBoolean()));
            var (_, online, _) = DeviceBroker.Send("GET", url);
            Assert.All(online.GetProperty("data").EnumerateArray(), d =>
            {
                Assert.True(d.GetProperty("online").GetBoolean());
                Assert.True(d.GetProperty("reachable").GetBoolean());
            });
        }

        Assert.True(await DeviceBroker.WaitUntil(() => !DeviceBroker.Send("GET", url).Json.GetProperty("gateway").GetProperty("online").GetBoolean()));
        var (_, gone, _) = DeviceBroker.Send("GET", url);
        Assert.All(gone.GetProperty("data").EnumerateArray(), d =>
        {
            Assert.False(d.GetProperty("online").GetBoolean());
            Assert.False(d.GetProperty("reachable").GetBoolean());
        });

        // Each device behind it is announced unreachable (its availability topic says offline).
        Assert.True(await events.WaitForAsync(o => AvailabilityTests.EventsFor(o, a).Any(e => e.GetProperty("event").GetString() == "unreachable")
            && AvailabilityTests.EventsFor(o, b).Any(e => e.GetProperty("event").GetString() == "unreachable")), events.Output);
        var retained = Tools.Run("mosquitto_sub", ["-h", "127.0.0.1", "-p", broker.MqttPort.ToString(CultureInfo.InvariantCulture),
            "-t", $"devices/{a}/availability", "-C", "1", "-W", "5"]);
        Assert.Equal("offline", retained.Output.Trim());
    }
}
