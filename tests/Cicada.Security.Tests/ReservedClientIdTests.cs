using Cicada.Security.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;

namespace Cicada.Security.Tests;

/// <summary>
/// Client ids in the namespaces of the broker's own Core sessions (bridge:, $devices:, amqp:, sse:,
/// coap:) are refused to outside clients, so none can take over or squat such a session; other
/// ids, including ones that equal a device identifier, keep working.
/// </summary>
public sealed class ReservedClientIdTests(ReservedClientIdTests.Fixture fixture) : IClassFixture<ReservedClientIdTests.Fixture>
{
    public sealed class Fixture : IAsyncLifetime
    {
        public SecureBroker Broker { get; private set; } = null!;

        public async Task InitializeAsync() => Broker = await SecureBroker.StartAsync(new SecureBrokerSettings { AllEdges = true });

        public async Task DisposeAsync() => await Broker.DisposeAsync();
    }

    [Theory]
    [InlineData("bridge:cloud")]
    [InlineData("$devices:registry:x")]
    [InlineData("amqp:q:orders")]
    [InlineData("sse:0123456789abcdef")]
    [InlineData("coap:127.0.0.1:5683")]
    public async Task Mqtt3139_V311_ReservedInternalClientId_IsRefusedWith0x02IdentifierRejected(string clientId)
    {
        var (client, connAck) = await RawMqttClient.ConnectAsync(fixture.Broker.Port, new ConnectOptions { ClientId = clientId });
        await using (client)
        {
            Assert.Equal(0x02, connAck.ReturnCode);
            await client.ExpectClosedAsync(); // MQTT-3.2.2-5: the server closes after a refusal
        }
    }

    [Theory]
    [InlineData("sse:0123456789abcdef")]
    [InlineData("bridge:cloud")]
    public async Task Mqtt5_ReservedInternalClientId_IsRefusedWith0x85ClientIdentifierNotValid(string clientId)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", fixture.Broker.Port).WithClientId(clientId)
            .WithProtocolVersion(MqttProtocolVersion.V500).Build();
        using var timeout = new CancellationTokenSource(Timeouts.Connect);
        try
        {
            // MQTTnet either returns the refusing CONNACK's result or throws with it, by version.
            var result = await client.ConnectAsync(options, timeout.Token);
            Assert.Equal(MqttClientConnectResultCode.ClientIdentifierNotValid, result.ResultCode);
            Assert.False(client.IsConnected);
        }
        catch (MQTTnet.Adapter.MqttConnectingFailedException refused)
        {
            Assert.Contains(nameof(MqttClientConnectResultCode.ClientIdentifierNotValid), refused.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("kitchen-lamp")]
    [InlineData("bridge-cloud")]
    [InlineData("sse")]
    public async Task Mqtt3135_OrdinaryClientIds_AreAccepted(string clientId)
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(fixture.Broker.Port, clientId + "-" + Guid.NewGuid().ToString("N")[..6]);
    }

    [Fact]
    public async Task Coap_ReservedClientIdInQuery_Is400_OrdinaryOneIsServed()
    {
        var uri = $"coap://127.0.0.1:{SecureBroker.Invariant(fixture.Broker.CoapPort)}/ps/reserved/{Guid.NewGuid():N}";
        var refused = await ExternalProcess.RunAsync("coap-client-notls", ["-m", "put", "-e", "x", uri + "?c=bridge:cloud"], Timeouts.ExternalClient);
        Assert.Contains("4.00", refused.ToString(), StringComparison.Ordinal);

        var served = await ExternalProcess.RunAsync("coap-client-notls", ["-m", "put", "-e", "x", uri + "?c=kitchen-lamp"], Timeouts.ExternalClient);
        Assert.DoesNotContain("4.0", served.ToString(), StringComparison.Ordinal);
    }
}
