namespace Cicada.Interop.Tests.Infrastructure;

public static class BrokerAssert
{
    /// <summary>
    /// After a client misbehaved, a NEW client can still connect, subscribe and get its own QoS 1
    /// message back: one bad connection must never take the listener down.
    /// </summary>
    public static async Task StillServesAsync(int port)
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(port, TestNames.ClientId("alive"));
        var topic = TestNames.Topic("alive");
        await client.SubscribeAsync(topic, 1);
        await client.PublishAsync(topic, "still here", qos: 1);
        var publish = await client.ReceivePublishAsync();
        Assert.Equal(topic, publish.Topic);
        Assert.Equal("still here", publish.PayloadText);
        await client.DisconnectAsync();
    }

    /// <summary>Asserts nothing arrives on the connection for <see cref="Timeouts.Quiet"/>.</summary>
    public static async Task NothingMoreAsync(RawMqttClient client)
    {
        var packet = await client.TryReadPacketAsync(Timeouts.Quiet);
        Assert.True(packet is null, $"Expected nothing more but received {packet}.");
    }
}
