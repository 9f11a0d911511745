using System.Globalization;
using System.Text.Json;
using Cicada.Devices.Tests.Support;

namespace Cicada.Devices.Tests;

/// <summary>
/// Availability from the broker's connect/disconnect notifications: retained
/// <c>{root}/availability</c>, exact <c>last_seen</c>, <c>$devices/events</c>; any protocol counts.
/// </summary>
public sealed class AvailabilityTests(DeviceBroker broker) : IClassFixture<DeviceBroker>
{
    private string Port => broker.MqttPort.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task ConnectAndDisconnect_PublishRetainedAvailability_AndEvents_AndExactLastSeen()
    {
        var id = broker.Register(DeviceBroker.NewId());
        using var events = await broker.SubscribeAsync("$devices/events");
        using var availability = await broker.SubscribeAsync($"devices/{id}/availability");
        Assert.True(await availability.WaitForAsync(o => o.Contains($"devices/{id}/availability offline", StringComparison.Ordinal)),
            "registered device's retained availability is not offline:\n" + availability.Output);

        var before = DateTimeOffset.UtcNow;
        using (var device = Tools.Start("mosquitto_sub", ["-h", "127.0.0.1", "-p", Port, "-i", id, "-t", $"devices/{id}/commands/#"]))
        {
            Assert.True(await availability.WaitForAsync(o => o.Contains($"devices/{id}/availability online", StringComparison.Ordinal)),
                "no online availability:\n" + availability.Output);
            Assert.True(broker.Device(id).GetProperty("online").GetBoolean());
        }

        var killed = DateTimeOffset.UtcNow;
        Assert.True(await availability.WaitForAsync(o => o.Split('\n').Count(l => l.EndsWith(" offline", StringComparison.Ordinal)) >= 2),
            "no offline availability after the client left:\n" + availability.Output);

        // last_seen is the moment the connection ended, not a heartbeat tick later or earlier.
        var data = broker.Device(id);
        Assert.False(data.GetProperty("online").GetBoolean());
        var lastSeen = DateTimeOffset.Parse(data.GetProperty("last_seen").GetString()!, CultureInfo.InvariantCulture);
        Assert.InRange(lastSeen, before, killed.AddSeconds(2));

        // The retained value stays for late subscribers (MQTT-3.3.1-6).
        var late = Tools.Run("mosquitto_sub", ["-h", "127.0.0.1", "-p", Port, "-t", $"devices/{id}/availability", "-C", "1", "-W", "5"]);
        Assert.Equal("offline", late.Output.Trim());

        Assert.True(await events.WaitForAsync(o => o.Contains("\"event\":\"offline\"", StringComparison.Ordinal) && o.Contains(id, StringComparison.Ordinal)));
        var lines = EventsFor(events.Output, id);
        Assert.Equal(["online", "offline"], lines.Select(e => e.GetProperty("event").GetString()));
        var offline = lines.First(e => e.GetProperty("event").GetString() == "offline");
        Assert.Equal("mqtt", offline.GetProperty("protocol").GetString());
        Assert.False(offline.GetProperty("clean").GetBoolean()); // killed: no DISCONNECT (MQTT-3.1.2-8)
    }

    [Fact]
    public async Task RegistryChanges_AreJsonEvents_OnDevicesEvents()
    {
        using var events = await broker.SubscribeAsync("$devices/events");
        var id = broker.Register(DeviceBroker.NewId(), extra: ""","room":"hall" """);
        Assert.Equal(200, DeviceBroker.Send("PATCH", $"{broker.Devices}/{id}", """{"room":"attic"}""").Status);
        Assert.Equal(204, DeviceBroker.Send("DELETE", $"{broker.Devices}/{id}").Status);

        Assert.True(await events.WaitForAsync(o => EventsFor(o, id).Count >= 3), "events missing:\n" + events.Output);
        var list = EventsFor(events.Output, id);
        Assert.Equal(["registered", "updated", "removed"], list.Select(e => e.GetProperty("event").GetString()));
        Assert.Equal("hall", list[0].GetProperty("device").GetProperty("room").GetString());
        Assert.Equal("attic", list[1].GetProperty("device").GetProperty("room").GetString());
    }

    [Fact]
    public async Task Mqtt5Client_WithTheDeviceId_CountsAsOnline_AndANormalDisconnectIsOffline()
    {
        var id = broker.Register(DeviceBroker.NewId());
        using var availability = await broker.SubscribeAsync($"devices/{id}/availability");
        using (Tools.Start("mosquitto_sub", ["-h", "127.0.0.1", "-p", Port, "-V", "5", "-i", id, "-t", "x/#"]))
        {
            Assert.True(await availability.WaitForAsync(o => o.Contains("availability online", StringComparison.Ordinal)), availability.Output);
        }

        Assert.True(await availability.WaitForAsync(o => o.TrimEnd().EndsWith("availability offline", StringComparison.Ordinal)), availability.Output);
    }

    internal static List<JsonElement> EventsFor(string output, string id)
    {
        var result = new List<JsonElement>();
        foreach (var line in output.Split('\n'))
        {
            const string prefix = "$devices/events ";
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                var json = JsonDocument.Parse(line[prefix.Length..]).RootElement.Clone();
                if (json.GetProperty("identifier").GetString() == id)
                {
                    result.Add(json);
                }
            }
        }

        return result;
    }
}
