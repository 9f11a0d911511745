using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 3.1.1 §3.1.4: a second connection with the same client id takes the session over.</summary>
public sealed class SessionTakeoverTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_3_1_4_2_same_client_id_disconnects_the_existing_connection(MqttVersion version)
    {
        var clientId = TestNames.ClientId("dup");
        await using var older = await RawMqttClient.ConnectAcceptedAsync(_port, clientId, version);

        await using var newer = await RawMqttClient.ConnectAcceptedAsync(_port, clientId, version);

        await older.ExpectClosedAsync();
        await newer.AssertOpenAsync();
    }

    [Fact]
    public async Task MQTT_3_1_4_2_takeover_keeps_a_persistent_session_and_routes_to_the_new_connection()
    {
        var clientId = TestNames.ClientId("dup");
        var topic = TestNames.Topic("takeover");
        await using var older = await RawMqttClient.ConnectAcceptedAsync(_port, new ConnectOptions { ClientId = clientId, CleanSession = false });
        await older.SubscribeAsync(topic, 1);

        var (newer, connAck) = await RawMqttClient.ConnectAsync(_port, new ConnectOptions { ClientId = clientId, CleanSession = false });
        await using var _ = newer;
        Assert.Equal(0, connAck.ReturnCode);
        Assert.True(connAck.SessionPresent); // the subscription made on the older connection is still there
        var leftovers = await older.ExpectClosedAsync();

        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(topic, "to the new one", qos: 1);

        Assert.Equal("to the new one", (await newer.ReceivePublishAsync()).PayloadText);
        Assert.DoesNotContain(leftovers, p => p.Type == PacketType.Publish);
    }

    [Fact]
    public async Task MQTT_3_1_4_2_mqttnet_client_is_disconnected_by_a_takeover()
    {
        var clientId = TestNames.ClientId("net");
        await using var older = await MqttNetClient.ConnectAsync(_port, clientId);
        var disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        older.Client.DisconnectedAsync += _ =>
        {
            disconnected.TrySetResult();
            return Task.CompletedTask;
        };

        await using var newer = await RawMqttClient.ConnectAcceptedAsync(_port, clientId);

        await disconnected.Task.WaitAsync(Timeouts.Close);
        Assert.False(older.Client.IsConnected);
        await newer.AssertOpenAsync();
    }

    [Fact]
    public async Task MQTT_3_1_4_2_repeated_takeovers_leave_exactly_one_live_connection()
    {
        var clientId = TestNames.ClientId("dup");
        var connections = new List<RawMqttClient>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                connections.Add(await RawMqttClient.ConnectAcceptedAsync(_port, clientId));
            }

            foreach (var stale in connections.Take(4))
            {
                await stale.ExpectClosedAsync();
            }

            await connections[^1].AssertOpenAsync();
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }
}
