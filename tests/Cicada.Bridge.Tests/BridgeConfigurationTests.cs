using Cicada.Core;
using Microsoft.Extensions.Configuration;

namespace Cicada.Bridge.Tests;

/// <summary>The <c>Bridges</c> section: every problem names its key and the reason (the server exits with code 2 on any).</summary>
public sealed class BridgeConfigurationTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private static (string, string)[] Valid(params (string Key, string Value)[] overrides)
    {
        var values = new Dictionary<string, string>
        {
            ["Bridges:0:Name"] = "cloud",
            ["Bridges:0:Address"] = "broker.example.com:8883",
            ["Bridges:0:Topics:0:Pattern"] = "sensors/#",
            ["Bridges:0:Topics:0:LocalPrefix"] = "site",
        };
        foreach (var (key, value) in overrides)
        {
            values[key] = value;
        }

        return [.. values.Select(kv => (kv.Key, kv.Value))];
    }

    [Fact]
    public void Defaults_AreMosquittosOnes()
    {
        var bridges = BridgeConfiguration.Read(Config(Valid()), out var problems);

        Assert.Empty(problems);
        var bridge = Assert.Single(bridges);
        Assert.Equal("broker.example.com", bridge.Host);
        Assert.Equal(8883, bridge.Port);
        Assert.Equal("cicada-bridge-cloud", bridge.ClientId);
        Assert.Equal("bridge:cloud", bridge.CoreClientId);
        Assert.False(bridge.V5);
        Assert.False(bridge.CleanSession);
        Assert.Equal(60, bridge.KeepAliveSeconds);
        var topic = Assert.Single(bridge.Topics);
        Assert.Equal(BridgeDirection.Out, topic.Direction);
        Assert.Equal(QoS.AtMostOnce, topic.Qos);
    }

    [Fact]
    public void EveryKey_IsRead()
    {
        var bridges = BridgeConfiguration.Read(Config(Valid(
            ("Bridges:0:Address", "[::1]:1884"), ("Bridges:0:Tls", "true"), ("Bridges:0:TlsInsecureSkipVerify", "true"),
            ("Bridges:0:Username", "u"), ("Bridges:0:Password", "p"), ("Bridges:0:ClientId", "edge-7"),
            ("Bridges:0:ProtocolVersion", "5"), ("Bridges:0:CleanSession", "true"), ("Bridges:0:KeepAliveSeconds", "30"),
            ("Bridges:0:ReconnectDelaySeconds", "2"), ("Bridges:0:MaxReconnectDelaySeconds", "20"),
            ("Bridges:0:Topics:0:Direction", "both"), ("Bridges:0:Topics:0:Qos", "2"),
            ("Bridges:0:Topics:0:LocalPrefix", "a/"), ("Bridges:0:Topics:0:RemotePrefix", "b/"))), out var problems);

        Assert.Empty(problems);
        var bridge = Assert.Single(bridges);
        Assert.Equal(("::1", 1884, "[::1]:1884"), (bridge.Host, bridge.Port, bridge.Remote));
        Assert.True(bridge.Tls && bridge.TlsInsecureSkipVerify && bridge.V5 && bridge.CleanSession);
        Assert.Equal(("u", "p", "edge-7", (ushort)30), (bridge.Username, bridge.Password, bridge.ClientId, bridge.KeepAliveSeconds));
        var topic = Assert.Single(bridge.Topics);
        Assert.Equal((BridgeDirection.Both, QoS.ExactlyOnce, "a/sensors/#", "b/sensors/#"), (topic.Direction, topic.Qos, topic.LocalFilter, topic.RemoteFilter));
    }

    [Theory]
    [InlineData("Bridges:0:Adress", "x:1", "Bridges:0:Adress: unknown key")]
    [InlineData("Bridges:0:Topics:0:Qos", "3", "Bridges:0:Topics:0:Qos: '3' is not 0, 1 or 2")]
    [InlineData("Bridges:0:Topics:0:Qos", "one", "Bridges:0:Topics:0:Qos: 'one' is not a whole number")]
    [InlineData("Bridges:0:Topics:0:Direction", "up", "Bridges:0:Topics:0:Direction: 'up' is not in, out or both")]
    [InlineData("Bridges:0:Topics:0:LocalPrefix", "a/+/", "Bridges:0:Topics:0:LocalPrefix: 'a/+/' is not a topic prefix")]
    [InlineData("Bridges:0:Topics:0:Pattern", "+", "Bridges:0:Topics:0:Pattern: '+' with its LocalPrefix makes 'site+', not a topic filter")]
    [InlineData("Bridges:0:Address", "broker.example.com", "Bridges:0:Address: 'broker.example.com' is not HOST:PORT")]
    [InlineData("Bridges:0:Address", "host:70000", "Bridges:0:Address: 'host:70000' is not HOST:PORT")]
    [InlineData("Bridges:0:ProtocolVersion", "3.1", "Bridges:0:ProtocolVersion: '3.1' is not 3.1.1 or 5")]
    [InlineData("Bridges:0:KeepAliveSeconds", "70000", "Bridges:0:KeepAliveSeconds: '70000' is not a whole number from 0 to 65535")]
    [InlineData("Bridges:0:MaxReconnectDelaySeconds", "0", "Bridges:0:MaxReconnectDelaySeconds: '0' is not a whole number from 1")]
    [InlineData("Bridges:0:CleanSession", "yes", "Bridges:0:CleanSession: 'yes' is not true or false")]
    [InlineData("Bridges:0:CaFile", "/nonexistent/ca.pem", "Bridges:0:CaFile: '/nonexistent/ca.pem' does not exist")]
    [InlineData("Bridges:0:Name", "a/b", "Bridges:0:Name: 'a/b' is not a bridge name")]
    public void Problem_NamesTheKeyAndTheReason(string key, string value, string expected)
    {
        var problems = BridgeConfiguration.Validate(Config(Valid((key, value))));

        Assert.Contains(problems, p => p.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void NoTopics_IsAProblem()
    {
        var problems = BridgeConfiguration.Validate(Config(("Bridges:0:Name", "x"), ("Bridges:0:Address", "h:1")));

        Assert.Equal(["Bridges:0:Topics: missing: a bridge needs at least one topic pattern"], problems);
    }

    [Fact]
    public void TwoBridgesWithOneName_IsAProblem()
    {
        var problems = BridgeConfiguration.Validate(Config(Valid(
            ("Bridges:1:Name", "cloud"), ("Bridges:1:Address", "other:1883"), ("Bridges:1:Topics:0:Pattern", "#"))));

        Assert.Contains(problems, p => p.StartsWith("Bridges:1:Name: 'cloud' names two bridges", StringComparison.Ordinal));
    }

    [Fact]
    public void EmptyPattern_NeedsWholeTopicsAsPrefixes()
    {
        var problems = BridgeConfiguration.Validate(Config(Valid(("Bridges:0:Topics:0:Pattern", ""), ("Bridges:0:Topics:0:LocalPrefix", "a/b"))));

        Assert.Contains(problems, p => p.StartsWith("Bridges:0:Topics:0:Pattern: '' needs LocalPrefix and RemotePrefix to be whole topic names", StringComparison.Ordinal));
    }

    [Fact]
    public void BackOff_DoublesFromTheFirstDelay_UpToTheCap()
    {
        var bridge = BridgeConfiguration.Read(Config(Valid(("Bridges:0:ReconnectDelaySeconds", "2"), ("Bridges:0:MaxReconnectDelaySeconds", "30"))), out _)[0];

        Assert.Equal([2, 4, 8, 16, 30, 30], Enumerable.Range(0, 6).Select(a => bridge.BackOff(a).TotalSeconds));
        Assert.Equal(30, bridge.BackOff(int.MaxValue).TotalSeconds);
    }
}
