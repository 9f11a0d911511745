using Cicada.Devices.Tests.Support;

namespace Cicada.Devices.Tests;

/// <summary>Home Assistant entities grouped into one device; Homie 4 node properties as state and commands.</summary>
public sealed partial class DiscoveryTests
{
    [Fact]
    public async Task HomeAssistantConfigs_SharingADeviceBlock_AreOneDevice_WithEachEntitysStateAndCommand()
    {
        // A Zigbee bridge announcing one physical device as three entities (the shape zigbee2mqtt
        // publishes): the shared device block names it once, via_device its bridge.
        var tag = Guid.NewGuid().ToString("N")[..8];
        var id = "th" + tag;
        var bridge = "z2m-bridge" + tag;
        var block = $$"""{"identifiers": ["{{id}}", "zigbee_{{id}}"], "name": "Bathroom sensor", "model": "WSDCGQ11LM", "manufacturer": "Aqara", "via_device": "{{bridge}}"}""";
        var temperature = $"homeassistant/sensor/{id}/temperature/config";
        var humidity = $"homeassistant/sensor/{id}/humidity/config";
        var heater = $"homeassistant/switch/{id}/heater/config";
        Retain(temperature, $$"""{"device_class": "temperature", "name": "Temperature", "state_topic": "z2m/{{id}}/temperature", "unit_of_measurement": "°C", "unique_id": "{{id}}_temperature", "device": {{block}}}""");
        Retain(humidity, $$"""{"device_class": "humidity", "name": "Humidity", "stat_t": "z2m/{{id}}/humidity", "uniq_id": "{{id}}_humidity", "dev": {{block}}}""");
        Retain(heater, $$"""{"name": "Heater", "~": "z2m/{{id}}/heater", "stat_t": "~", "cmd_t": "~/set", "uniq_id": "{{id}}_heater", "device": {{block}}}""");

        Assert.True(await DeviceBroker.WaitUntil(() => DeviceBroker.Send("GET", $"{broker.Devices}/{id}") is { Status: 200 } r
            && r.Json.GetProperty("data").GetProperty("entities").EnumerateObject().Count() == 3), "the three entities never made one device");
        var device = broker.Device(id);
        Assert.Equal("Bathroom sensor", device.GetProperty("name").GetString());
        Assert.Equal("WSDCGQ11LM", device.GetProperty("model").GetString());
        Assert.Equal("Aqara", device.GetProperty("manufacturer").GetString());
        Assert.Equal(bridge, device.GetProperty("controller_gateway").GetString());
        Assert.Equal("switch", device.GetProperty("device_type").GetString()); // the first entity's (by key: heater) component
        var gateway = DeviceBroker.Send("GET", $"{broker.BaseUrl}/api/v1/gateways/{bridge}/devices").Json;
        Assert.Equal(id, Assert.Single(gateway.GetProperty("data").EnumerateArray()).GetProperty("identifier").GetString());
        Assert.Equal(404, DeviceBroker.Send("GET", $"{broker.Devices}/{id}_temperature").Status); // entities are not devices

        // Each entity's state topic, under its key.
        Retain($"z2m/{id}/temperature", "21.5");
        Retain($"z2m/{id}/humidity", "40");
        Retain($"z2m/{id}/heater", "OFF");
        Assert.True(await DeviceBroker.WaitUntil(() =>
            DeviceBroker.Send("GET", $"{broker.Devices}/{id}/state").Json.GetProperty("data") is var s
            && s.TryGetProperty("temperature", out var t) && t.GetDouble() == 21.5
            && s.TryGetProperty("humidity", out var h) && h.GetInt32() == 40
            && s.TryGetProperty("heater", out var o) && o.GetString() == "OFF"), DeviceBroker.Send("GET", $"{broker.Devices}/{id}/state").Json.ToString());

        // A command goes to the named entity's command topic; an entity without one has no commands.
        using (var commands = await broker.SubscribeAsync($"z2m/{id}/#"))
        {
            var (status, json, _) = DeviceBroker.Send("POST", $"{broker.Devices}/{id}/commands/heater", "ON");
            Assert.Equal(202, status);
            Assert.Equal($"z2m/{id}/heater/set", json.GetProperty("data").GetProperty("command_topic").GetString());
            Assert.True(await commands.WaitForAsync(o => o.Contains($"z2m/{id}/heater/set ON", StringComparison.Ordinal)), commands.Output);
        }

        Assert.Equal(400, DeviceBroker.Send("POST", $"{broker.Devices}/{id}/commands/temperature", "1").Status);

        // Removing one entity keeps the device; removing the last removes it.
        Clear(heater);
        Assert.True(await DeviceBroker.WaitUntil(() => broker.Device(id).GetProperty("entities").EnumerateObject().Count() == 2));
        Assert.Equal("sensor", broker.Device(id).GetProperty("device_type").GetString());
        Assert.Equal(400, DeviceBroker.Send("POST", $"{broker.Devices}/{id}/commands/heater", "ON").Status);
        Clear(temperature);
        Assert.True(await DeviceBroker.WaitUntil(() => broker.Device(id).GetProperty("entities").EnumerateObject().Count() == 1));
        Clear(humidity);
        Assert.True(await DeviceBroker.WaitUntil(() => DeviceBroker.Send("GET", $"{broker.Devices}/{id}").Status == 404),
            "removing the last entity's config did not remove the device");
    }

    [Fact]
    public async Task HomieProperties_AreTheDevicesState_ByDatatype_AndASettableOneTakesCommandsOnItsSetTopic()
    {
        var id = "thermostat-" + Guid.NewGuid().ToString("N")[..8];
        using var homie = Tools.Start("/usr/bin/python3", [Path.Combine(Repo.Clients, "homie_device.py"), "127.0.0.1", Port, id]);
        Assert.True(await homie.WaitForAsync(o => o.Contains("READY", StringComparison.Ordinal)), "paho Homie device never subscribed:\n" + homie.Output);

        // $nodes, $properties and the property attributes are read into "properties".
        Assert.True(await DeviceBroker.WaitUntil(() => DeviceBroker.Send("GET", $"{broker.Devices}/{id}") is { Status: 200 } r
            && r.Json.GetProperty("data").TryGetProperty("properties", out var p)
            && p.EnumerateObject().Count() == 4
            && p.TryGetProperty("light/label", out var label) && label.TryGetProperty("datatype", out _)
            && p.GetProperty("thermostat/target").TryGetProperty("settable", out var settable) && settable.GetBoolean()
            && p.GetProperty("light/on").TryGetProperty("settable", out var on) && on.GetBoolean()
            && r.Json.GetProperty("data").GetProperty("online").GetBoolean()), "Homie properties never registered:\n" + broker.Device(id));
        var device = broker.Device(id);
        Assert.Equal("Living room thermostat", device.GetProperty("name").GetString());
        Assert.Equal(["thermostat", "light"], device.GetProperty("nodes").EnumerateArray().Select(n => n.GetString()));
        Assert.Equal("thermostat", device.GetProperty("device_type").GetString()); // the first listed node's $type, though "light" came last
        var temperature = device.GetProperty("properties").GetProperty("thermostat/temperature");
        Assert.Equal("float", temperature.GetProperty("datatype").GetString());
        Assert.Equal("°C", temperature.GetProperty("unit").GetString());
        Assert.Equal("Temperature", temperature.GetProperty("name").GetString());
        Assert.False(temperature.TryGetProperty("settable", out _));

        // The values, flat by "{node}/{property}", typed by $datatype (a string "42" stays a string).
        var state = DeviceBroker.Send("GET", $"{broker.Devices}/{id}/state").Json.GetProperty("data");
        Assert.Equal(21.5, state.GetProperty("thermostat/temperature").GetDouble());
        Assert.Equal(20, state.GetProperty("thermostat/target").GetInt32());
        Assert.True(state.GetProperty("light/on").GetBoolean());
        Assert.Equal("42", state.GetProperty("light/label").GetString());
        Assert.Equal(4, state.EnumerateObject().Count()); // no $attributes

        // Homie 4 §Property command topic: the value goes, not retained, to {property}/set; the
        // device applies it and publishes it back, so the state follows.
        var (status, json, _) = DeviceBroker.Send("POST", $"{broker.Devices}/{id}/commands/thermostat.target", "23");
        Assert.Equal(202, status);
        Assert.Equal($"homie/{id}/thermostat/target/set", json.GetProperty("data").GetProperty("command_topic").GetString());
        Assert.True(await homie.WaitForAsync(o => o.Contains($"SET homie/{id}/thermostat/target/set retain=0 body=23", StringComparison.Ordinal)), homie.Output);
        Assert.True(await DeviceBroker.WaitUntil(() =>
            DeviceBroker.Send("GET", $"{broker.Devices}/{id}/state").Json.GetProperty("data").GetProperty("thermostat/target").GetInt32() == 23));

        Assert.Equal(202, DeviceBroker.Send("POST", $"{broker.Devices}/{id}/commands/light.on", "false").Status);
        Assert.True(await DeviceBroker.WaitUntil(() =>
            !DeviceBroker.Send("GET", $"{broker.Devices}/{id}/state").Json.GetProperty("data").GetProperty("light/on").GetBoolean()));

        // Only settable, announced properties take commands.
        Assert.Equal(400, DeviceBroker.Send("POST", $"{broker.Devices}/{id}/commands/thermostat.temperature", "30").Status);
        Assert.Equal(400, DeviceBroker.Send("POST", $"{broker.Devices}/{id}/commands/thermostat.nothing", "1").Status);
        Assert.Equal(400, DeviceBroker.Send("POST", $"{broker.Devices}/{id}/commands/reboot", "1").Status);
    }
}
