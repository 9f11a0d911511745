using Cicada.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 5 §3.1.2.11.2 Session Expiry Interval, §3.14.2.2.2 changing it on DISCONNECT.</summary>
public sealed class V5SessionExpiryTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    private async Task<RawMqttClient> SessionAsync(string id, uint? expiry, string filter, bool cleanStart = true)
    {
        var client = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = id, SessionExpiry = expiry, CleanStart = cleanStart });
        Assert.Equal([0x01], await client.SubscribeV5Async(filter));
        return client;
    }

    private async Task PublishAsync(string topic, string payload)
    {
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishV5Async(topic, payload, qos: 1);
        await publisher.DisconnectAndWaitForCloseAsync();
    }

    private async Task<V5ConnAck> ResumeAsync(string id)
    {
        var (client, connAck) = await V5Client.ConnectAsync(_port, new V5Connect { ClientId = id, CleanStart = false });
        await client.DisposeAsync();
        return connAck;
    }

    [Fact]
    public async Task Section_3_1_2_11_2_without_an_expiry_the_session_ends_with_the_connection()
    {
        var id = TestNames.ClientId("e0");
        var client = await SessionAsync(id, expiry: null, TestNames.Topic("e0"));
        await client.DisconnectAndWaitForCloseAsync();
        await client.DisposeAsync();

        Assert.False((await ResumeAsync(id)).SessionPresent);
    }

    [Fact]
    public async Task Section_3_1_2_11_2_within_the_interval_the_session_and_its_queued_messages_are_kept()
    {
        var id = TestNames.ClientId("keep");
        var topic = TestNames.Topic("keep");
        var client = await SessionAsync(id, expiry: 60, topic);
        client.Abort(); // not even a DISCONNECT: the session still lives on
        await client.DisposeAsync();
        await PublishAsync(topic, "while away");

        var (again, connAck) = await V5Client.ConnectAsync(_port, new V5Connect { ClientId = id, CleanStart = false, SessionExpiry = 60 });
        await using var _ = again;

        Assert.True(connAck.SessionPresent);
        Assert.Equal("while away", (await again.ReceiveV5Async()).PayloadText);
    }

    [Fact]
    public async Task Section_3_1_2_11_2_after_the_interval_the_session_is_gone()
    {
        var id = TestNames.ClientId("gone");
        var client = await SessionAsync(id, expiry: 1, TestNames.Topic("gone"));
        await client.DisconnectAndWaitForCloseAsync();
        await client.DisposeAsync();

        await Task.Delay(TimeSpan.FromSeconds(3));

        Assert.False((await ResumeAsync(id)).SessionPresent);
    }

    [Fact]
    public async Task Section_3_14_2_2_2_DISCONNECT_with_expiry_0_ends_a_session_that_was_to_be_kept()
    {
        var id = TestNames.ClientId("d0");
        var client = await SessionAsync(id, expiry: 300, TestNames.Topic("d0"));

        await client.SendAsync(V5Packets.Disconnect(0x00, new V5Props().UInt32(Prop.SessionExpiryInterval, 0)));
        await client.ExpectClosedAsync();
        await client.DisposeAsync();

        Assert.False((await ResumeAsync(id)).SessionPresent);
    }

    [Fact]
    public async Task Section_3_14_2_2_2_DISCONNECT_can_lengthen_the_interval()
    {
        var id = TestNames.ClientId("dl");
        var topic = TestNames.Topic("dl");
        var client = await SessionAsync(id, expiry: 1, topic);

        await client.SendAsync(V5Packets.Disconnect(0x00, new V5Props().UInt32(Prop.SessionExpiryInterval, 300)));
        await client.ExpectClosedAsync();
        await client.DisposeAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));
        await PublishAsync(topic, "kept");

        var (again, connAck) = await V5Client.ConnectAsync(_port, new V5Connect { ClientId = id, CleanStart = false });
        await using var _ = again;
        Assert.True(connAck.SessionPresent);
        Assert.Equal("kept", (await again.ReceiveV5Async()).PayloadText);
    }

    [Fact]
    public async Task MQTT_3_1_2_4_clean_start_discards_an_unexpired_session()
    {
        var id = TestNames.ClientId("cs");
        var client = await SessionAsync(id, expiry: 300, TestNames.Topic("cs"));
        await client.DisconnectAndWaitForCloseAsync();
        await client.DisposeAsync();

        var (fresh, connAck) = await V5Client.ConnectAsync(_port, new V5Connect { ClientId = id, CleanStart = true, SessionExpiry = 300 });
        await using var _ = fresh;

        Assert.False(connAck.SessionPresent);
    }

    [Fact]
    public async Task Section_3_1_2_11_2_MQTTnet_resumes_a_session_by_its_expiry_interval()
    {
        var id = TestNames.ClientId("net");
        var topic = TestNames.Topic("net");
        void V5(MqttClientOptionsBuilder b) => b.WithProtocolVersion(MqttProtocolVersion.V500).WithSessionExpiryInterval(120);
        await using (var first = await MqttNetClient.ConnectAsync(_port, id, cleanSession: true, configure: V5))
        {
            await first.SubscribeAsync(topic, 1);
            await first.DisconnectAsync();
        }

        await PublishAsync(topic, "queued for MQTTnet");

        await using var second = await MqttNetClient.ConnectAsync(_port, id, cleanSession: false, configure: V5);
        Assert.True(second.ConnectResult.IsSessionPresent);
        Assert.Equal("queued for MQTTnet", (await second.NextMessageAsync()).Payload);
        await second.DisconnectAsync();
    }

    [Fact]
    public async Task Section_3_1_2_11_2_mosquitto_sub_with_x_resumes_its_session()
    {
        var id = TestNames.ClientId("msub");
        var topic = TestNames.Topic("msub");
        await using (var sub = await MosquittoClients.SubscribeAsync(_port, topic, qos: 1, version: MqttVersion.V311, clientId: id, cleanSession: false,
                         extra: ["-V", "mqttv5", "-x", "120"]))
        {
            // Killed: the session outlives the connection for 120 s.
        }

        await PublishAsync(topic, "for mosquitto_sub");

        await using var again = await MosquittoClients.SubscribeAsync(_port, topic, qos: 1, count: 1, clientId: id, cleanSession: false,
            extra: ["-V", "mqttv5", "-x", "120"]);
        var messages = await again.WaitForExitAsync();
        Assert.Equal("for mosquitto_sub", Assert.Single(messages).Payload);
    }
}
