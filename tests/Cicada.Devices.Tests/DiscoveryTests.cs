using System.Globalization;
using Cicada.Devices.Tests.Support;

namespace Cicada.Devices.Tests;

/// <summary>Home Assistant MQTT discovery and Homie 4 announcements register devices automatically.</summary>
public sealed partial class DiscoveryTests(DeviceBroker broker) : IClassFixture<DeviceBroker>
{
    private string Port => broker.MqttPort.ToString(CultureInfo.InvariantCulture);

    private void Retain(string topic, string payload, string clientId = "announcer") =>
        Assert.Equal(0, Tools.Run("mosquitto_pub", ["-h", "127.0.0.1", "-p", Port, "-i", clientId, "-q", "1", "-r", "-t", topic, "-m", payload]).ExitCode);

    private void Clear(string topic) =>
        Assert.Equal(0, Tools.Run("mosquitto_pub", ["-h", "127.0.0.1", "-p", Port, "-q", "1", "-r", "-t", topic, "-n"]).ExitCode);

    private Task<bool> Registered(string id) => DeviceBroker.WaitUntil(() => DeviceBroker.Send("GET", $"{broker.Devices}/{id}").Status == 200);

    [Fact]
    public async Task HomeAssistantConfig_RegistersItsDevice_WithTheEntityTopics_AndAnEmptyConfigRemovesIt()
    {
        // Home Assistant's documented motion-sensor example (MQTT discovery), with unique ids.
        var tag = Guid.NewGuid().ToString("N")[..8];
        var objectId = "garden" + tag;
        var config = $"homeassistant/binary_sensor/{objectId}/config";
        var stateTopic = $"homeassistant/binary_sensor/{objectId}/state";
        var deviceId = "01ad" + tag;
        Retain(config, $$"""{"name": null, "device_class": "motion", "state_topic": "{{stateTopic}}", "unique_id": "motion01ad{{tag}}", "device": {"identifiers": ["{{deviceId}}"], "name": "Garden"} }""",
            clientId: "ha-bridge-" + tag);

        // The registry device is the physical device of the config's device block.
        Assert.True(await Registered(deviceId), "the announced device was never registered");
        var device = broker.Device(deviceId);
        Assert.Equal("homeassistant", device.GetProperty("source").GetString());
        Assert.Equal("binary_sensor", device.GetProperty("device_type").GetString());
        Assert.Equal("Garden", device.GetProperty("name").GetString());
        Assert.Equal("ha-bridge-" + tag, device.GetProperty("controller_gateway").GetString()); // no via_device: the announcing client
        Assert.Equal(deviceId, device.GetProperty("device_identifiers")[0].GetString());
        var entity = device.GetProperty("entities").GetProperty(objectId);
        Assert.Equal("motion01ad" + tag, entity.GetProperty("unique_id").GetString());
        Assert.Equal(stateTopic, entity.GetProperty("state_topic").GetString());

        // The announced state topic is the entity's state.
        Retain(stateTopic, "ON");
        Assert.True(await DeviceBroker.WaitUntil(() =>
            DeviceBroker.Send("GET", $"{broker.Devices}/{deviceId}/state").Json.GetProperty("data").TryGetProperty(objectId, out var s) && s.GetString() == "ON"));

        Clear(config);
        Assert.True(await DeviceBroker.WaitUntil(() => DeviceBroker.Send("GET", $"{broker.Devices}/{deviceId}").Status == 404),
            "an empty retained config did not remove the device of its only entity");
    }

    [Fact]
    public async Task HomeAssistantLight_UsesItsCommandAndAvailabilityTopics_AndViaDevice()
    {
        var tag = Guid.NewGuid().ToString("N")[..8];
        var id = "light" + tag;
        // Abbreviated keys and the '~' base topic, as Home Assistant documents them.
        Retain($"homeassistant/light/bridge{tag}/{id}/config", $$"""
            {"~": "zigbee/{{id}}", "name": "Kitchen", "uniq_id": "{{id}}", "stat_t": "~/state", "cmd_t": "~/set",
             "avty_t": "~/availability", "dev": {"ids": ["{{id}}"], "name": "Kitchen light", "via_device": "bridge{{tag}}"} }
            """);
        Assert.True(await Registered(id));
        var device = broker.Device(id);
        Assert.Equal("bridge" + tag, device.GetProperty("controller_gateway").GetString());
        Assert.Equal($"zigbee/{id}/set", device.GetProperty("entities").GetProperty(id).GetProperty("command_topic").GetString());
        Assert.Equal($"zigbee/{id}/availability", device.GetProperty("availability_topic").GetString());
        Assert.False(device.GetProperty("online").GetBoolean());

        Retain($"zigbee/{id}/availability", "online");
        Assert.True(await DeviceBroker.WaitUntil(() => broker.Device(id).GetProperty("online").GetBoolean()), "announced availability not followed");

        // The command's name is the entity's object id.
        using var commands = await broker.SubscribeAsync($"zigbee/{id}/set");
        var (status, json, _) = DeviceBroker.Send("POST", $"{broker.Devices}/{id}/commands/{id}", """{"state":"ON"}""");
        Assert.Equal(202, status);
        Assert.Equal($"zigbee/{id}/set", json.GetProperty("data").GetProperty("command_topic").GetString());
        Assert.True(await commands.WaitForAsync(o => o.Contains($$"""zigbee/{{id}}/set {"state":"ON"}""", StringComparison.Ordinal)), commands.Output);
        Assert.Equal(400, DeviceBroker.Send("POST", $"{broker.Devices}/{id}/commands/unknown", "x").Status);
    }

    [Fact]
    public async Task HomieDevice_IsRegistered_WithNameTypeAndState_AndClearingItRemovesIt()
    {
        var id = "super-car-" + Guid.NewGuid().ToString("N")[..8];
        Retain($"homie/{id}/$homie", "4.0.0");
        Retain($"homie/{id}/$name", "Super car");
        Retain($"homie/{id}/engine/$type", "V8");
        Retain($"homie/{id}/$state", "ready");

        Assert.True(await DeviceBroker.WaitUntil(() =>
            DeviceBroker.Send("GET", $"{broker.Devices}/{id}") is { Status: 200 } r && r.Json.GetProperty("data").GetProperty("device_type").GetString() == "V8"),
            "Homie device not registered with its node type");
        var device = broker.Device(id);
        Assert.Equal("homie", device.GetProperty("source").GetString());
        Assert.Equal("Super car", device.GetProperty("name").GetString());
        Assert.Equal($"homie/{id}", device.GetProperty("topic").GetString());
        Assert.True(device.GetProperty("online").GetBoolean()); // $state = ready

        Retain($"homie/{id}/$state", "lost");
        Assert.True(await DeviceBroker.WaitUntil(() => !broker.Device(id).GetProperty("online").GetBoolean()));

        Clear($"homie/{id}/$name");
        Assert.True(await DeviceBroker.WaitUntil(() => DeviceBroker.Send("GET", $"{broker.Devices}/{id}").Status == 404));

        // Clearing its other attributes afterwards does not bring it back. Announcements are
        // applied in arrival order, so once a later device is registered these were applied.
        Clear($"homie/{id}/$state");
        Clear($"homie/{id}/engine/$type");
        var marker = "marker-" + Guid.NewGuid().ToString("N")[..8];
        Retain($"homie/{marker}/$name", "Marker");
        Assert.True(await Registered(marker));
        Assert.Equal(404, DeviceBroker.Send("GET", $"{broker.Devices}/{id}").Status);
        Clear($"homie/{marker}/$name");
    }

    [Fact]
    public async Task Announcement_NeverOverwritesADeviceRegisteredByHand()
    {
        var id = broker.Register(DeviceBroker.NewId());
        Retain($"homie/{id}/$name", "Impostor");
        using var marker = await broker.SubscribeAsync($"homie/{id}/$name");
        Assert.True(await marker.WaitForAsync(o => o.Contains("Impostor", StringComparison.Ordinal)));
        await Task.Delay(300);
        Assert.Equal($"Device {id}", broker.Device(id).GetProperty("name").GetString());
    }
}
