using System.Globalization;
using System.Text.Json;
using Cicada.Http.Tests.Support;
using static Cicada.Testing.Tools;

namespace Cicada.Http.Tests;

/// <summary><c>GET /api/v1/stream</c>: Server-Sent Events (WHATWG HTML §9.2) of live messages.</summary>
public sealed class StreamTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly BrokerProcess _broker = fixture.Broker;

    private static string Prefix() => "s" + Guid.NewGuid().ToString("N")[..10];

    private RunningTool OpenStream(string query) =>
        Start("curl", ["-s", "-N", "--max-time", "20", $"{_broker.BaseUrl}/api/v1/stream?{query}"]);

    private static List<JsonElement> Events(string output) =>
        [.. output.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l[6..]).RootElement.Clone())];

    [Fact]
    public async Task MqttPublish_ReachesAnSseClient_MatchingItsFilter_Only()
    {
        var prefix = Prefix();
        using var stream = OpenStream($"filter={prefix}/%2B/temp");
        Assert.True(await stream.WaitForAsync(o => o.Contains(": subscribed", StringComparison.Ordinal)), stream.Output);

        var port = _broker.MqttPort.ToString(CultureInfo.InvariantCulture);
        Assert.Equal(0, Run("mosquitto_pub", ["-h", "127.0.0.1", "-p", port, "-t", $"{prefix}/hall/humidity", "-m", "no"]).ExitCode);
        Assert.Equal(0, Run("mosquitto_pub", ["-h", "127.0.0.1", "-p", port, "-t", $"{prefix}/kitchen/temp", "-m", "21.5", "-q", "1"]).ExitCode);

        Assert.True(await stream.WaitForAsync(o => Events(o).Count >= 1), stream.Output);
        await Task.Delay(200);
        var e = Assert.Single(Events(stream.Output));
        Assert.Equal($"{prefix}/kitchen/temp", e.GetProperty("topic").GetString());
        Assert.Equal("21.5", e.GetProperty("payload").GetString());
        Assert.Equal(0, e.GetProperty("qos").GetInt32()); // a stream is a QoS 0 subscriber
        Assert.Matches(@"id: [0-9a-f]+\.[0-9]+\nevent: message\n", stream.Output);
    }

    [Fact]
    public async Task Stream_IsAClientWhileOpen_WithAnSseClientId()
    {
        var prefix = Prefix();
        using var stream = OpenStream($"filter={prefix}/%23");
        Assert.True(await stream.WaitForAsync(o => o.Contains(": subscribed", StringComparison.Ordinal)), stream.Output);

        var subs = JsonDocument.Parse(Curl($"{_broker.BaseUrl}/api/v1/subscriptions").Body).RootElement;
        var mine = Assert.Single(subs.EnumerateArray(), s => s.GetProperty("filter").GetString() == $"{prefix}/#");
        var clientId = mine.GetProperty("client_id").GetString()!;
        Assert.StartsWith("sse:", clientId, StringComparison.Ordinal);

        var clients = JsonDocument.Parse(Curl($"{_broker.BaseUrl}/api/v1/clients").Body).RootElement;
        var client = Assert.Single(clients.EnumerateArray(), c => c.GetProperty("client_id").GetString() == clientId);
        Assert.Equal("sse", client.GetProperty("protocol").GetString());

        stream.Dispose(); // the client leaves: its session goes (not persistent)
        Assert.True(await DeviceRegistryTests.WaitUntil(() =>
            !JsonDocument.Parse(Curl($"{_broker.BaseUrl}/api/v1/clients").Body).RootElement.EnumerateArray()
                .Any(c => c.GetProperty("client_id").GetString() == clientId)));
    }

    [Fact]
    public async Task RetainedTrue_SendsMatchingRetainedMessagesFirst_WithRetainSet()
    {
        var prefix = Prefix();
        Curl("-X", "POST", $"{_broker.BaseUrl}/api/v1/topics/{prefix}/door?retain=true", "--data-binary", "closed");
        using var stream = OpenStream($"filter={prefix}/%23&retained=true");
        Assert.True(await stream.WaitForAsync(o => Events(o).Count >= 1), stream.Output);
        var e = Events(stream.Output)[0];
        Assert.Equal("closed", e.GetProperty("payload").GetString());
        Assert.True(e.GetProperty("retain").GetBoolean());
    }

    [Fact]
    public void BadFilter_Is400Problem_MQTT_4_7_1_2()
    {
        var (status, body, headers) = Curl($"{_broker.BaseUrl}/api/v1/stream?filter=a/%23/b");
        Assert.Equal(400, status);
        Assert.Contains("application/problem+json", headers, StringComparison.Ordinal);
        Assert.Equal("filter", JsonDocument.Parse(body).RootElement.GetProperty("field").GetString());
    }
}
