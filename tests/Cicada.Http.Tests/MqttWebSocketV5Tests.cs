using System.Globalization;
using System.Text.Json;
using Cicada.Http.Tests.Support;
using static Cicada.Testing.Tools;

namespace Cicada.Http.Tests;

/// <summary>
/// MQTT 5 over WebSocket at <c>/mqtt</c> (MQTT 5 §6): MQTT.js at protocol version 5 publishing and
/// subscribing over ws, with a mosquitto v5 client on TCP on the other side.
/// </summary>
public sealed class MqttWebSocketV5Tests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly BrokerProcess _broker = fixture.Broker;

    [Fact]
    public async Task MqttJsV5_QoS1And2_UserProperties_TopicAlias_CrossTheWebSocketAndTcp_MQTT_3_3_2_3()
    {
        var prefix = "ws5" + Guid.NewGuid().ToString("N")[..10];
        var port = _broker.MqttPort.ToString(CultureInfo.InvariantCulture);

        // A TCP v5 subscriber printing topic, payload, QoS and user properties of each message; it
        // exits (and so flushes its output) after the five messages of the test.
        using var tcp = Start("mosquitto_sub", ["-h", "127.0.0.1", "-p", port, "-V", "5", "-q", "2", "-i", $"{prefix}-tcp", "-t", $"{prefix}/v5/#",
            "-F", "%t|%p|%q|%P", "-C", "5"]);
        Assert.True(await DeviceRegistryTests.WaitUntil(() =>
            JsonDocument.Parse(Curl($"{_broker.BaseUrl}/api/v1/subscriptions").Body).RootElement.EnumerateArray()
                .Any(s => s.GetProperty("client_id").GetString() == $"{prefix}-tcp")), tcp.Output);

        using var ws = MqttJs.Start(_broker.WebSocketUrl, "v5", prefix);
        Assert.True(await ws.WaitForAsync(o => o.Contains("\"ready\"", StringComparison.Ordinal), TimeSpan.FromSeconds(20)), ws.Output);

        // The other way: a TCP v5 publisher with a user property, to the ws subscriber.
        Assert.Equal(0, Run("mosquitto_pub", ["-h", "127.0.0.1", "-p", port, "-V", "5", "-q", "1", "-t", $"{prefix}/v5/tcp", "-m", "from-tcp",
            "-D", "publish", "user-property", "via", "tcp"]).ExitCode);
        Assert.True(await ws.WaitForAsync(o => o.Contains("\"received\"", StringComparison.Ordinal) || o.Contains("\"error\"", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20)), ws.Output);
        var line = ws.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.StartsWith('{'));
        var result = JsonDocument.Parse(line).RootElement;
        Assert.False(result.TryGetProperty("error", out _), line);
        Assert.Equal([2], result.GetProperty("granted").EnumerateArray().Select(g => g.GetInt32()));

        var received = result.GetProperty("received").EnumerateArray().ToDictionary(m => m.GetProperty("payload").GetString()!);
        Assert.Equal(["a1", "a2", "from-tcp", "q1", "q2"], received.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(1, received["q1"].GetProperty("qos").GetInt32());
        Assert.Equal("kitchen", received["q1"].GetProperty("user").GetProperty("room").GetString()); // MQTT-3.3.2-18
        Assert.Equal(2, received["q2"].GetProperty("qos").GetInt32());
        Assert.Equal("1", received["q2"].GetProperty("user").GetProperty("floor").GetString());
        Assert.Equal("text/plain", received["q2"].GetProperty("contentType").GetString()); // MQTT-3.3.2-20

        // The alias-only PUBLISH reached the subscriber under its real topic (MQTT-3.3.2-12: aliases are per connection).
        Assert.Equal($"{prefix}/v5/alias", received["a2"].GetProperty("topic").GetString());
        Assert.Equal("tcp", received["from-tcp"].GetProperty("user").GetProperty("via").GetString());

        // The TCP subscriber saw what the WebSocket client published, with its user properties and QoS.
        Assert.True(tcp.Process.WaitForExit(15_000), "the TCP subscriber did not get five messages:\n" + tcp.Output);
        await tcp.WaitForAsync(o => o.Split('\n').Count(l => l.StartsWith(prefix, StringComparison.Ordinal)) >= 5, TimeSpan.FromSeconds(5));
        Assert.Contains($"{prefix}/v5/alias|a2|2", tcp.Output, StringComparison.Ordinal);
        Assert.Contains($"{prefix}/v5/one|q1|1|room:kitchen", tcp.Output, StringComparison.Ordinal);
        Assert.Contains($"{prefix}/v5/two|q2|2|", tcp.Output, StringComparison.Ordinal);
        Assert.Contains("floor:1", tcp.Output, StringComparison.Ordinal);
    }
}
