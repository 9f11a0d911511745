using System.Text.Json;
using Cicada.Http.Tests.Support;
using static Cicada.Testing.Tools;

namespace Cicada.Http.Tests;

/// <summary><c>/api/v1/devices</c>: the home-automation registry's contract, with curl.</summary>
public sealed class DeviceRegistryTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly string _devices = fixture.Broker.BaseUrl + "/api/v1/devices";

    private static string NewId() => "dev-" + Guid.NewGuid().ToString("N")[..12];

    private (int Status, JsonElement Json, string Headers) Send(string method, string url, string? json = null)
    {
        string[] args = json is null
            ? ["-X", method, url]
            : ["-X", method, url, "-H", "Content-Type: application/json", "--data-binary", json];
        var (status, body, headers) = Curl(args);
        return (status, body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone(), headers);
    }

    private (int Status, JsonElement Json, string Headers) Register(string id, string type = "light", string gateway = "gw-1", string extra = "") =>
        Send("POST", _devices, $$"""{"identifier":"{{id}}","name":"Lamp {{id}}","device_type":"{{type}}","controller_gateway":"{{gateway}}"{{extra}}}""");

    [Fact]
    public void Register_Answers201_WithTheEnvelope_AndKeepsExtraFields()
    {
        var id = NewId();
        var (status, json, headers) = Register(id, extra: ""","room":"kitchen","watts":9.5""");

        Assert.Equal(201, status);
        Assert.Equal("Device registered", json.GetProperty("message").GetString());
        var data = json.GetProperty("data");
        Assert.Equal(id, data.GetProperty("identifier").GetString());
        Assert.Equal("light", data.GetProperty("device_type").GetString());
        Assert.Equal("gw-1", data.GetProperty("controller_gateway").GetString());
        Assert.Equal("kitchen", data.GetProperty("room").GetString());
        Assert.Equal(9.5, data.GetProperty("watts").GetDouble());
        Assert.False(data.GetProperty("online").GetBoolean());
        Assert.Equal(JsonValueKind.Null, data.GetProperty("last_seen").ValueKind);
        Assert.Contains($"Location: /api/v1/devices/{id}", headers, StringComparison.OrdinalIgnoreCase);

        var (getStatus, got, _) = Send("GET", $"{_devices}/{id}");
        Assert.Equal(200, getStatus);
        Assert.Equal("Device found", got.GetProperty("message").GetString());
        Assert.Equal("kitchen", got.GetProperty("data").GetProperty("room").GetString());
    }

    [Fact]
    public void UnknownDevice_Is404_WithTheExactEnvelope()
    {
        var (status, body, _) = Curl($"{_devices}/{NewId()}");
        Assert.Equal(404, status);
        Assert.Equal("""{"message":"Device not found","data":{}}""", body);
    }

    [Fact]
    public void DuplicateIdentifier_Is409()
    {
        var id = NewId();
        Assert.Equal(201, Register(id).Status);
        var (status, json, headers) = Register(id, type: "switch");
        Assert.Equal(409, status);
        Assert.Contains("application/problem+json", headers, StringComparison.Ordinal);
        Assert.Equal("light", json.GetProperty("data").GetProperty("device_type").GetString()); // the first one stays
    }

    [Theory]
    [InlineData("""{"name":"n","device_type":"t","controller_gateway":"g"}""", "identifier")]
    [InlineData("""{"identifier":"x1","device_type":"t","controller_gateway":"g"}""", "name")]
    [InlineData("""{"identifier":"x1","name":"n","controller_gateway":"g"}""", "device_type")]
    [InlineData("""{"identifier":"x1","name":"n","device_type":"t"}""", "controller_gateway")]
    [InlineData("""{"identifier":"x1","name":"n","device_type":7,"controller_gateway":"g"}""", "device_type")]
    [InlineData("""{"identifier":"","name":"n","device_type":"t","controller_gateway":"g"}""", "identifier")]
    [InlineData("""[1,2]""", "body")]
    [InlineData("""{"identifier":""", "body")]
    public void MissingOrInvalidField_Is400ProblemNamingIt(string json, string field)
    {
        var (status, body, headers) = Send("POST", _devices, json);
        Assert.Equal(400, status);
        Assert.Contains("application/problem+json", headers, StringComparison.Ordinal);
        Assert.Equal(field, body.GetProperty("field").GetString());
        Assert.True(body.GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public void List_FiltersByTypeAndGateway_AndPages()
    {
        var gateway = "gw-" + Guid.NewGuid().ToString("N")[..8];
        var ids = Enumerable.Range(0, 5).Select(i => $"{gateway}-d{i}").ToArray();
        foreach (var (id, i) in ids.Select((id, i) => (id, i)))
        {
            Assert.Equal(201, Register(id, type: i % 2 == 0 ? "light" : "sensor", gateway: gateway).Status);
        }

        var (status, all, _) = Send("GET", $"{_devices}?controller_gateway={gateway}");
        Assert.Equal(200, status);
        Assert.Equal(5, all.GetProperty("meta").GetProperty("total").GetInt32());
        Assert.Equal(ids, all.GetProperty("data").EnumerateArray().Select(d => d.GetProperty("identifier").GetString()!).ToArray());

        var (_, lights, _) = Send("GET", $"{_devices}?controller_gateway={gateway}&device_type=light");
        Assert.Equal([ids[0], ids[2], ids[4]], lights.GetProperty("data").EnumerateArray().Select(d => d.GetProperty("identifier").GetString()!).ToArray());

        var (_, page2, _) = Send("GET", $"{_devices}?controller_gateway={gateway}&page=2&page_size=2");
        Assert.Equal([ids[2], ids[3]], page2.GetProperty("data").EnumerateArray().Select(d => d.GetProperty("identifier").GetString()!).ToArray());
        Assert.Equal(5, page2.GetProperty("meta").GetProperty("total").GetInt32());

        Assert.Equal(400, Send("GET", $"{_devices}?page=0").Status);
        Assert.Equal(400, Send("GET", $"{_devices}?page_size=100000").Status);
    }

    [Fact]
    public void Put_ReplacesFields_Patch_MergesThem_Rfc7396()
    {
        var id = NewId();
        Register(id, extra: ""","room":"hall","floor":1""");

        var (putStatus, put, _) = Send("PUT", $"{_devices}/{id}", """{"name":"Renamed","device_type":"dimmer","controller_gateway":"gw-2","room":"attic"}""");
        Assert.Equal(200, putStatus);
        Assert.Equal("Device updated", put.GetProperty("message").GetString());
        var data = put.GetProperty("data");
        Assert.Equal("Renamed", data.GetProperty("name").GetString());
        Assert.Equal("attic", data.GetProperty("room").GetString());
        Assert.False(data.TryGetProperty("floor", out _)); // PUT replaces the whole device

        var (patchStatus, patch, _) = Send("PATCH", $"{_devices}/{id}", """{"name":"Patched","room":null,"color":"red"}""");
        Assert.Equal(200, patchStatus);
        data = patch.GetProperty("data");
        Assert.Equal("Patched", data.GetProperty("name").GetString());
        Assert.Equal("dimmer", data.GetProperty("device_type").GetString());
        Assert.Equal("red", data.GetProperty("color").GetString());
        Assert.False(data.TryGetProperty("room", out _));

        Assert.Equal("device_type", Send("PATCH", $"{_devices}/{id}", """{"device_type":null}""").Json.GetProperty("field").GetString());
        Assert.Equal("identifier", Send("PUT", $"{_devices}/{id}", """{"identifier":"other","name":"n","device_type":"t","controller_gateway":"g"}""").Json.GetProperty("field").GetString());
        Assert.Equal(404, Send("PUT", $"{_devices}/{NewId()}", """{"name":"n","device_type":"t","controller_gateway":"g"}""").Status);
    }

    [Fact]
    public void Delete_Answers204_ThenTheDeviceIsGone()
    {
        var id = NewId();
        Register(id);
        Assert.Equal(204, Curl("-X", "DELETE", $"{_devices}/{id}").Status);
        Assert.Equal(404, Curl($"{_devices}/{id}").Status);
        Assert.Equal(404, Curl("-X", "DELETE", $"{_devices}/{id}").Status);
    }

    [Fact]
    public async Task Device_IsOnline_WhileAnMqttClientWithItsIdIsConnected_AndKeepsLastSeen()
    {
        var id = NewId();
        Register(id);
        using (var client = Start("mosquitto_sub", ["-h", "127.0.0.1", "-p", fixture.Broker.MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-i", id, "-t", "devices/none"]))
        {
            Assert.True(await WaitUntil(() => Send("GET", $"{_devices}/{id}").Json.GetProperty("data").GetProperty("online").GetBoolean()),
                "device never showed online");
            var (_, online, _) = Send("GET", $"{_devices}?online=true&page_size=500");
            Assert.Contains(online.GetProperty("data").EnumerateArray(), d => d.GetProperty("identifier").GetString() == id);
            await Task.Delay(1500); // connected across a heartbeat tick, as a real device is
        }

        Assert.True(await WaitUntil(() => !Send("GET", $"{_devices}/{id}").Json.GetProperty("data").GetProperty("online").GetBoolean()),
            "device stayed online after its client left");

        // The heartbeat records when it left (within a tick or two).
        Assert.True(await WaitUntil(() => Send("GET", $"{_devices}/{id}").Json.GetProperty("data").GetProperty("last_seen").ValueKind == JsonValueKind.String),
            "last_seen never recorded");
        var seen = DateTimeOffset.Parse(Send("GET", $"{_devices}/{id}").Json.GetProperty("data").GetProperty("last_seen").GetString()!,
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(seen, DateTimeOffset.UtcNow.AddSeconds(-30), DateTimeOffset.UtcNow.AddSeconds(1));
    }

    internal static async Task<bool> WaitUntil(Func<bool> condition, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (condition())
            {
                return true;
            }

            await Task.Delay(100);
        }

        return condition();
    }
}
