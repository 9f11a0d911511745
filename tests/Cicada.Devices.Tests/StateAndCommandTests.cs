using System.Globalization;
using System.Text.Json;
using Cicada.Devices.Tests.Support;

namespace Cicada.Devices.Tests;

/// <summary>
/// A device's state (retained <c>{root}/state/#</c> as one JSON object, ETag) and its commands with
/// replies (MQTT 5 request/response, §4.10) over REST, CoAP and AMQP.
/// </summary>
public sealed class StateAndCommandTests(DeviceBroker broker) : IClassFixture<DeviceBroker>
{
    private string Port => broker.MqttPort.ToString(CultureInfo.InvariantCulture);

    private void Retain(string topic, string payload) =>
        Assert.Equal(0, Tools.Run("mosquitto_pub", ["-h", "127.0.0.1", "-p", Port, "-q", "1", "-r", "-t", topic, "-m", payload]).ExitCode);

    private async Task<RunningTool> StartV5DeviceAsync(string id, string filter)
    {
        var device = Tools.Start("/usr/bin/python3", [Path.Combine(Repo.Clients, "v5_device.py"), "127.0.0.1", Port, id, filter]);
        Assert.True(await device.WaitForAsync(o => o.Contains("READY", StringComparison.Ordinal)), "paho device never subscribed:\n" + device.Output);
        return device;
    }

    [Fact]
    public async Task State_IsTheRetainedStateTopics_AsOneObject_JsonEmbedded_WithETagAnd304()
    {
        var id = broker.Register(DeviceBroker.NewId());
        Retain($"devices/{id}/state/power", "on");
        Retain($"devices/{id}/state/brightness", "80");
        Retain($"devices/{id}/state/color", """{"r":255,"g":10}""");
        Retain($"devices/{id}/other", "not state");

        var url = $"{broker.Devices}/{id}/state";
        (int Status, JsonElement Json, string Headers) got = default;
        Assert.True(await DeviceBroker.WaitUntil(() => (got = DeviceBroker.Send("GET", url)).Json.GetProperty("data").EnumerateObject().Count() == 3),
            "state incomplete: " + got.Json);
        var data = got.Json.GetProperty("data");
        Assert.Equal("on", data.GetProperty("power").GetString());
        Assert.Equal(80, data.GetProperty("brightness").GetInt32()); // "80" is JSON: a number
        Assert.Equal(255, data.GetProperty("color").GetProperty("r").GetInt32());
        var etag = ETag(got.Headers!);

        // RFC 9110 §13.1.2: the same representation → 304 without a body.
        var (status, body, _) = Tools.Curl(url, "-H", $"If-None-Match: {etag}");
        Assert.Equal(304, status);
        Assert.Equal("", body);

        Retain($"devices/{id}/state/power", "off");
        (int Status, JsonElement Json, string Headers) changed = default;
        Assert.True(await DeviceBroker.WaitUntil(() => (changed = DeviceBroker.Send("GET", url, null, "-H", $"If-None-Match: {etag}")).Status == 200));
        Assert.Equal("off", changed.Json.GetProperty("data").GetProperty("power").GetString());
        Assert.NotEqual(etag, ETag(changed.Headers!));

        Assert.Equal(404, DeviceBroker.Send("GET", $"{broker.Devices}/{DeviceBroker.NewId()}/state").Status);
    }

    [Fact]
    public async Task CustomTopicRoot_IsUsedForStateAndCommands()
    {
        var id = DeviceBroker.NewId();
        broker.Register(id, extra: $$""","topic":"home/{{id}}" """);
        Assert.Equal($"home/{id}", broker.Device(id).GetProperty("topic").GetString());
        Retain($"home/{id}/state/temp", "21.5");
        Assert.True(await DeviceBroker.WaitUntil(() =>
            DeviceBroker.Send("GET", $"{broker.Devices}/{id}/state").Json.GetProperty("data").TryGetProperty("temp", out var t) && t.GetDouble() == 21.5));

        var (status, json, _) = DeviceBroker.Send("POST", $"{broker.Devices}/{id}/commands/reboot", "{}");
        Assert.Equal(202, status);
        Assert.Equal($"home/{id}/commands/reboot", json.GetProperty("data").GetProperty("command_topic").GetString());

        Assert.Equal(400, DeviceBroker.Send("POST", broker.Devices,
            """{"identifier":"bad-topic","name":"n","device_type":"t","controller_gateway":"g","topic":"a/+/b"}""").Status);
    }

    [Fact]
    public async Task Command_WithWait_ReturnsTheV5DevicesReply_AndV3SubscribersGetThePlainMessage()
    {
        var id = broker.Register(DeviceBroker.NewId());
        using var device = await StartV5DeviceAsync(id, $"devices/{id}/commands/+");
        using var v3 = await broker.SubscribeAsync($"devices/{id}/commands/#", version: "mqttv311");

        var (status, body, headers) = Tools.Curl("-X", "POST", $"{broker.Devices}/{id}/commands/toggle?wait=5s", "--data-binary", "power=on");
        Assert.Equal(200, status);
        Assert.Equal("done:power=on", body);
        Assert.Contains("Content-Type: text/plain", headers, StringComparison.OrdinalIgnoreCase);

        // The device saw QoS 1 with a Response Topic and Correlation Data (MQTT 5 §4.10).
        Assert.Matches($@"COMMAND devices/{id}/commands/toggle qos=1 response=devices/{id}/replies/\w+ correlation=\w+ body=power=on", device.Output);
        var correlation = headers.Split('\n').First(h => h.StartsWith("Correlation-Id:", StringComparison.OrdinalIgnoreCase))[15..].Trim();
        Assert.Contains($"correlation={correlation}", device.Output, StringComparison.Ordinal);

        // An MQTT 3.1.1 subscriber gets the same command, plain.
        Assert.True(await v3.WaitForAsync(o => o.Contains($"devices/{id}/commands/toggle power=on", StringComparison.Ordinal)), v3.Output);
    }

    [Fact]
    public async Task Command_WithoutWait_Is202_AndWithoutAReply_Is504()
    {
        var id = broker.Register(DeviceBroker.NewId());
        using var v3 = await broker.SubscribeAsync($"devices/{id}/commands/#", version: "mqttv311");
        var (status, json, _) = DeviceBroker.Send("POST", $"{broker.Devices}/{id}/commands/ping", """{"n":1}""");
        Assert.Equal(202, status);
        Assert.Equal("Command sent", json.GetProperty("message").GetString());
        Assert.StartsWith($"devices/{id}/replies/", json.GetProperty("data").GetProperty("response_topic").GetString(), StringComparison.Ordinal);
        Assert.True(await v3.WaitForAsync(o => o.Contains($$"""devices/{{id}}/commands/ping {"n":1}""", StringComparison.Ordinal)), v3.Output);

        // Nobody answers: 504 after the wait, not before.
        var started = DateTime.UtcNow;
        var (late, problem, headers) = DeviceBroker.Send("POST", $"{broker.Devices}/{id}/commands/ping?wait=700ms", "{}");
        Assert.Equal(504, late);
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(650));
        Assert.Contains("application/problem+json", headers, StringComparison.Ordinal);
        Assert.Equal("Device did not reply", problem.GetProperty("message").GetString());

        Assert.Equal(404, DeviceBroker.Send("POST", $"{broker.Devices}/{DeviceBroker.NewId()}/commands/ping", "{}").Status);
        Assert.Equal(400, DeviceBroker.Send("POST", $"{broker.Devices}/{id}/commands/ping?wait=forever", "{}").Status);
    }

    [Fact]
    public async Task CoapCommand_WithWait_ReturnsTheReply_OverASeparateResponse()
    {
        var id = broker.Register(DeviceBroker.NewId());
        using var device = await StartV5DeviceAsync(id, $"devices/{id}/commands/+");
        var uri = $"coap://127.0.0.1:{broker.CoapPort}/devices/{id}/commands/dim?wait=5s";
        var result = Tools.Run("coap-client-notls", ["-m", "post", "-e", "level=30", "-B", "10", uri], TimeSpan.FromSeconds(15));
        Assert.Contains("done:level=30", result.Output, StringComparison.Ordinal);
        Assert.Contains($"COMMAND devices/{id}/commands/dim qos=1", device.Output, StringComparison.Ordinal);

        var unknown = Tools.Run("coap-client-notls", ["-m", "post", "-e", "x", "-B", "5",
            $"coap://127.0.0.1:{broker.CoapPort}/devices/{DeviceBroker.NewId()}/commands/dim"], TimeSpan.FromSeconds(10));
        Assert.Contains("4.04", unknown.Output + unknown.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AmqpCommand_ThroughAmqTopicWithReplyTo_GetsTheV5DevicesReply()
    {
        // reply_to ↔ Response Topic, correlation_id ↔ Correlation Data: the AMQP edge's mapping.
        var id = broker.Register(DeviceBroker.NewId());
        using var device = await StartV5DeviceAsync(id, $"devices/{id}/commands/+");
        var result = Tools.Run("/usr/bin/python3", [Path.Combine(Repo.Clients, "pika_command.py"), "127.0.0.1",
            broker.AmqpPort.ToString(CultureInfo.InvariantCulture), id], TimeSpan.FromSeconds(20));
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Contains("REPLY correlation_ok=True body=done:from-amqp", result.Output, StringComparison.Ordinal);
    }

    private static string ETag(string headers) =>
        headers.Split('\n').First(h => h.StartsWith("ETag:", StringComparison.OrdinalIgnoreCase))[5..].Trim();
}
