using Cicada.Core.Auth;

namespace Cicada.Core.Tests;

/// <summary>$SYS is the broker's (MQTT-4.7.2: `$` topics are the server's to use): clients may not publish there.</summary>
public class ReservedTopicTests
{
    private static readonly ClientIdentity Client = new("alice", "c1", "mqtt");

    [Theory]
    [InlineData("$SYS", false)]
    [InlineData("$SYS/broker/uptime", false)]
    [InlineData("$SYSTEM/x", true)]
    [InlineData("home/$SYS", true)]
    [InlineData("$share-like/topic", true)]
    public void Clients_may_not_publish_to_SYS(string topic, bool allowed)
    {
        Assert.Equal(allowed, AllowAllAuthorizer.Instance.CanPublish(Client, topic));
        Assert.Equal(allowed, AllowAllAuthorizer.Instance.Explain(Client, topic, AclAction.Publish).Allowed);
    }

    [Fact]
    public void Clients_may_still_read_SYS() =>
        Assert.True(AllowAllAuthorizer.Instance.CanSubscribe(Client, "$SYS/#"));
}
