namespace Cicada.Coap.Tests;

/// <summary>
/// libcoap's <c>coap-client-notls</c> (Debian libcoap3-bin) and mosquitto's clients against the
/// real server process: CoAP and MQTT on one topic space.
/// </summary>
public sealed class CoapClientInteropTests(InteropFixture server) : IClassFixture<InteropFixture>
{
    private const string CoapClient = "coap-client-notls";

    private string Mqtt => server.MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Topic(string name) => $"interop/{name}/{Guid.NewGuid():N}";

    private static string Payload(int length) =>
        string.Concat(Enumerable.Range(0, length).Select(i => (char)('A' + i * 7 % 26)));

    [Fact]
    public void Put_IsReceivedByAnMqttSubscriber()
    {
        var topic = Topic("put");
        using var sub = new Tool("mosquitto_sub", "-p", Mqtt, "-t", topic, "-C", "1", "-W", "15");
        // Give mosquitto_sub a moment to subscribe; PUT retains by default, so a late subscriber
        // still receives the value and the test does not depend on this timing.
        Thread.Sleep(500);

        var put = Tool.Run(CoapClient, "-m", "put", "-e", "21.5", server.Uri($"ps/{topic}"));

        Assert.Equal("21.5", sub.Wait().Trim());
        Assert.DoesNotContain("4.", put, StringComparison.Ordinal);
    }

    [Fact]
    public void MqttRetained_IsReturnedByGet()
    {
        var topic = Topic("retained");
        Tool.Run("mosquitto_pub", "-p", Mqtt, "-t", topic, "-r", "-q", "1", "-m", "from-mqtt");

        var get = Tool.Run(CoapClient, "-m", "get", server.Uri($"ps/{topic}"));

        Assert.Equal("from-mqtt", get.Trim());
    }

    [Fact]
    public void Get_WithNothingRetained_Is404()
    {
        var get = Tool.Run(CoapClient, "-m", "get", server.Uri($"ps/{Topic("none")}"));

        Assert.Contains("4.04", get, StringComparison.Ordinal);
    }

    [Fact]
    public void Observe_SeesAnMqttPublish()
    {
        var topic = Topic("observe");
        using var observer = new Tool(CoapClient, "-m", "get", "-s", "6", server.Uri($"ps/{topic}"));
        Assert.True(InteropFixture.WaitFor(() => server.Output.Contains($"of {topic} from", StringComparison.Ordinal), TimeSpan.FromSeconds(5)),
            "the observation was never registered\n" + server.Output);

        // QoS 1: mosquitto_pub exits after the PUBACK, i.e. once the broker routed the message,
        // so the two publishes reach the broker in this order.
        Tool.Run("mosquitto_pub", "-p", Mqtt, "-t", topic, "-q", "1", "-m", "live-1");
        Tool.Run("mosquitto_pub", "-p", Mqtt, "-t", topic, "-q", "1", "-m", "live-2");

        var output = observer.Wait();
        Assert.Contains("live-1", output, StringComparison.Ordinal);
        Assert.Contains("live-2", output, StringComparison.Ordinal);
        Assert.True(output.IndexOf("live-1", StringComparison.Ordinal) < output.IndexOf("live-2", StringComparison.Ordinal), output);
    }

    [Fact]
    public void WellKnownCore_ListsPubSubAndRetainedTopics()
    {
        var topic = Topic("discovery");
        Tool.Run("mosquitto_pub", "-p", Mqtt, "-t", topic, "-r", "-q", "1", "-m", "x"); // retained once PUBACKed

        var links = Tool.Run(CoapClient, "-m", "get", server.Uri(".well-known/core"));

        Assert.Contains("</ps>;rt=\"core.ps\";ct=40", links, StringComparison.Ordinal);
        Assert.Contains($"</ps/{topic}>;rt=\"core.ps.data\"", links, StringComparison.Ordinal);
    }

    [Fact]
    public void FiveKilobytes_WithBlockSize64_BothWays()
    {
        var topic = Topic("blocks");
        var payload = Payload(5 * 1024);
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, payload);
            using var sub = new Tool("mosquitto_sub", "-p", Mqtt, "-t", topic, "-C", "1", "-W", "20");
            Thread.Sleep(500);

            var put = Tool.Run(CoapClient, "-m", "put", "-b", "64", "-f", file, server.Uri($"ps/{topic}"));
            var viaMqtt = sub.Wait().TrimEnd('\n');
            var get = Tool.Run(CoapClient, "-m", "get", "-b", "64", server.Uri($"ps/{topic}"));

            Assert.DoesNotContain("4.", put, StringComparison.Ordinal);
            Assert.Equal(payload, viaMqtt);
            Assert.Equal(payload, get.TrimEnd('\n'));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Delete_ClearsTheRetainedValue()
    {
        var topic = Topic("delete");
        Tool.Run(CoapClient, "-m", "put", "-e", "v", server.Uri($"ps/{topic}"));

        var deleted = Tool.Run(CoapClient, "-m", "delete", server.Uri($"ps/{topic}"));
        var get = Tool.Run(CoapClient, "-m", "get", server.Uri($"ps/{topic}"));

        Assert.DoesNotContain("4.", deleted, StringComparison.Ordinal);
        Assert.Contains("4.04", get, StringComparison.Ordinal);
    }

    [Fact]
    public void PutWithContentFormat_IsKept_AcceptOfAnotherIs406()
    {
        var topic = Topic("cf");
        Tool.Run(CoapClient, "-m", "put", "-t", "50", "-e", "{\"on\":true}", server.Uri($"ps/{topic}"));

        var json = Tool.Run(CoapClient, "-m", "get", "-A", "50", server.Uri($"ps/{topic}"));
        var cbor = Tool.Run(CoapClient, "-m", "get", "-A", "60", server.Uri($"ps/{topic}"));

        Assert.Equal("{\"on\":true}", json.Trim());
        Assert.Contains("4.06", cbor, StringComparison.Ordinal);
    }
}
