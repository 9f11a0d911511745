using System.Globalization;
using System.Text.Json;
using Cicada.Http.Tests.Support;
using static Cicada.Testing.Tools;

namespace Cicada.Http.Tests;

/// <summary>One topic space: what one protocol publishes, the others see.</summary>
public sealed class CrossProtocolTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly BrokerProcess _broker = fixture.Broker;

    private string MqttPort => _broker.MqttPort.ToString(CultureInfo.InvariantCulture);

    /// <summary>Waits until the broker lists a subscription to <paramref name="filter"/> (the subscriber is ready).</summary>
    private Task<bool> SubscribedAsync(string filter) => DeviceRegistryTests.WaitUntil(() =>
        JsonDocument.Parse(Curl($"{_broker.BaseUrl}/api/v1/subscriptions").Body).RootElement.EnumerateArray()
            .Any(s => s.GetProperty("filter").GetString() == filter));

    private static string Prefix() => "x" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task HttpPublish_ReachesAnMqttSubscriber_AtTheRequestedQoS()
    {
        var prefix = Prefix();
        // -F "%q %t %p": QoS, topic, payload; -C 1 exits (and flushes) after one message.
        using var sub = Start("mosquitto_sub", ["-h", "127.0.0.1", "-p", MqttPort, "-t", $"{prefix}/#", "-q", "1", "-F", "%q %t %p", "-C", "1"]);
        Assert.True(await SubscribedAsync($"{prefix}/#"), sub.Output);

        Assert.Equal(200, Curl("-X", "POST", $"{_broker.BaseUrl}/api/v1/topics/{prefix}/lamp?qos=1", "--data-binary", "on").Status);

        Assert.True(sub.Process.WaitForExit(15_000), sub.Output);
        sub.Process.WaitForExit();
        Assert.Equal($"1 {prefix}/lamp on", sub.Output.Trim());
    }

    [Fact]
    public void MqttRetainedPublish_IsReadByHttpGet()
    {
        var prefix = Prefix();
        var pub = Run("mosquitto_pub", ["-h", "127.0.0.1", "-p", MqttPort, "-t", $"{prefix}/state", "-m", "42", "-r", "-q", "1"]);
        Assert.Equal(0, pub.ExitCode);

        var (status, body, _) = Curl($"{_broker.BaseUrl}/api/v1/topics/{prefix}/state");
        Assert.Equal(200, status);
        Assert.Equal("42", body);

        var (_, retained, _) = Curl($"{_broker.BaseUrl}/api/v1/retained?filter={prefix}/%2B");
        var item = Assert.Single(JsonDocument.Parse(retained).RootElement.EnumerateArray());
        Assert.Equal($"{prefix}/state", item.GetProperty("topic").GetString());
    }

    [Fact]
    public async Task HttpPublish_ReachesAnMqttJsClientOverWebSocket()
    {
        var prefix = Prefix();
        using var listener = MqttJs.Start(_broker.WebSocketUrl, "listen", prefix, "1");
        Assert.True(await listener.WaitForAsync(o => o.Contains("\"ready\"", StringComparison.Ordinal)), listener.Output);

        Assert.Equal(200, Curl("-X", "POST", $"{_broker.BaseUrl}/api/v1/topics/{prefix}/web?qos=1", "--data-binary", "hi").Status);

        Assert.True(await listener.WaitForAsync(o => o.Contains("\"received\"", StringComparison.Ordinal)), listener.Output);
        Assert.Contains($"\"topic\":\"{prefix}/web\",\"payload\":\"hi\"", listener.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MqttJsOverWebSocket_ReachesAnMqttTcpSubscriber()
    {
        var prefix = Prefix();
        using var sub = Start("mosquitto_sub", ["-h", "127.0.0.1", "-p", MqttPort, "-t", $"{prefix}/#", "-v", "-C", "1"]);
        Assert.True(await SubscribedAsync($"{prefix}/#"), sub.Output);

        MqttJs.Run(_broker.WebSocketUrl, "publish", prefix, $"{prefix}/from-ws", "hello-tcp", "1", "false");

        Assert.True(sub.Process.WaitForExit(15_000), sub.Output);
        sub.Process.WaitForExit();
        Assert.Equal($"{prefix}/from-ws hello-tcp", sub.Output.Trim());
    }
}
