using Cicada.Core;

namespace Cicada.Bridge.Tests;

/// <summary>mosquitto.conf(5) <c>topic pattern direction qos local-prefix remote-prefix</c> semantics.</summary>
public sealed class TopicMappingTests
{
    [Theory]
    [InlineData("sensors/#", "site/", "cloud/", "site/sensors/t1", "cloud/sensors/t1")]
    [InlineData("sensors/+/temp", "", "cloud/", "sensors/kitchen/temp", "cloud/sensors/kitchen/temp")]
    [InlineData("#", "a/b/", "", "a/b/c", "c")]
    [InlineData("", "kitchen/temp", "legacy/sensor7", "kitchen/temp", "legacy/sensor7")]
    public void Out_LocalPrefixIsReplacedByTheRemotePrefix(string pattern, string local, string remote, string localTopic, string remoteTopic)
    {
        var mapping = new TopicMapping(pattern, BridgeDirection.Out, QoS.AtLeastOnce, local, remote);

        Assert.True(mapping.TryToRemote(localTopic, out var mapped));
        Assert.Equal(remoteTopic, mapped);
        Assert.True(mapping.TryToLocal(remoteTopic, out var back));
        Assert.Equal(localTopic, back);
    }

    [Theory]
    [InlineData("sensors/#", "site/", "site/other/t1")]
    [InlineData("sensors/#", "site/", "sensors/t1")]
    [InlineData("sensors/+", "", "sensors/a/b")]
    // "site/#" matches "site" (MQTT-4.7.1-2), but nothing of it is left to put after the remote prefix.
    [InlineData("#", "site/", "site")]
    // MQTT-4.7.2-1: a leading wildcard does not match $ topics, so $SYS stays home.
    [InlineData("#", "", "$SYS/broker/uptime")]
    public void Out_TopicsOutsideThePattern_AreNotCarried(string pattern, string local, string localTopic)
    {
        var mapping = new TopicMapping(pattern, BridgeDirection.Out, QoS.AtMostOnce, local, "remote/");

        Assert.False(mapping.TryToRemote(localTopic, out _));
    }

    [Fact]
    public void Filters_ArePrefixPlusPattern()
    {
        var mapping = new TopicMapping("cmd/#", BridgeDirection.Both, QoS.ExactlyOnce, "home/", "cloud/home/");

        Assert.Equal("home/cmd/#", mapping.LocalFilter);
        Assert.Equal("cloud/home/cmd/#", mapping.RemoteFilter);
        Assert.True(mapping.IsIn);
        Assert.True(mapping.IsOut);
        Assert.Equal("cmd/# both 2 home/ cloud/home/", mapping.ToString());
    }
}
