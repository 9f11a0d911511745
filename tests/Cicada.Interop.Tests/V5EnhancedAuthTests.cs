using Cicada.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;

namespace Cicada.Interop.Tests;

/// <summary>
/// MQTT 5 §4.12 enhanced authentication and §4.12.1 re-authentication, with SCRAM-SHA-256 over
/// real sockets: the users were created by <c>cicada passwd</c> (which writes their SCRAM
/// credentials), the client side is the suite's own RFC 5802 implementation or MQTTnet's
/// enhanced-authentication handler. mosquitto 2.0 has no built-in SCRAM: these run on Cicada only.
/// </summary>
public sealed class V5EnhancedAuthTests(AuthBrokerFixture fixture) : IClassFixture<AuthBrokerFixture>
{
    private const PacketType Auth = PacketType.Reserved15; // AUTH, MQTT 5 §3.15

    private readonly int _port = fixture.Port;

    private static void CicadaOnly() => KnownDeviation.CicadaOnly("SCRAM-SHA-256 enhanced authentication is not built into mosquitto 2.0");

    private static V5Props AuthProps(byte[]? data, string method = ScramClient.Method)
    {
        var props = new V5Props().String(Prop.AuthenticationMethod, method);
        return data is null ? props : props.Binary(Prop.AuthenticationData, data);
    }

    private static V5Connect ScramConnect(ScramClient scram, string? userName = null) => new()
    {
        ClientId = TestNames.ClientId("scram"),
        Properties = AuthProps(scram.ClientFirst()),
        UserName = userName,
    };

    /// <summary>An AUTH from the broker: reason code and properties (§3.15.2).</summary>
    private static (byte Reason, List<WireProperty> Props) ReadAuth(MqttPacket packet)
    {
        Assert.True(packet.Type == Auth, $"Expected AUTH but received {packet}.");
        Assert.Equal(0, packet.Flags); // MQTT-3.15.1-1
        var position = 1;
        var props = V5Read.Properties(packet.Body, ref position);
        Assert.Equal(packet.Body.Length, position);
        return (packet.Body[0], props);
    }

    /// <summary>CONNECT, AUTH 0x18 from the broker, the client's AUTH 0x18; returns the CONNACK.</summary>
    private async Task<(RawMqttClient Client, V5ConnAck ConnAck)> ScramConnectAsync(ScramClient scram, string? userName = null)
    {
        var client = await RawMqttClient.OpenAsync(_port);
        try
        {
            await client.SendAsync(V5Packets.Connect(ScramConnect(scram, userName)));
            var (reason, props) = ReadAuth(await client.ReadPacketAsync());
            Assert.Equal(0x18, reason); // MQTT-4.12.0-2
            Assert.Equal(ScramClient.Method, props.Get<string>(Prop.AuthenticationMethod)); // MQTT-4.12.0-5
            await client.SendAsync(V5Packets.Auth(0x18, AuthProps(scram.ClientFinal(props.Get<byte[]>(Prop.AuthenticationData)!))));
            return (client, V5ConnAck.From(await client.ReadPacketAsync(PacketType.ConnAck)));
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    private static async Task ExpectRefusedAsync(RawMqttClient client, V5ConnAck connAck, byte reason)
    {
        Assert.Equal(reason, connAck.Reason);
        Assert.False(connAck.SessionPresent); // MQTT-3.2.2-6
        Assert.False(connAck.Properties.Has(Prop.AuthenticationData));
        await client.ExpectClosedAsync(); // MQTT-3.2.2-7
    }

    [SkippableFact]
    public async Task MQTT_4_12_0_2_SCRAM_SHA_256_continues_with_AUTH_0x18_and_ends_with_CONNACK_0x00_carrying_the_server_signature()
    {
        CicadaOnly();
        var scram = new ScramClient(AuthBrokerFixture.User, AuthBrokerFixture.Password);

        var (client, connAck) = await ScramConnectAsync(scram);
        await using var _ = client;

        Assert.Equal(0x00, connAck.Reason);
        Assert.Equal(ScramClient.Method, connAck.Properties.Get<string>(Prop.AuthenticationMethod)); // MQTT-4.12.0-5
        Assert.True(scram.VerifyServerFinal(connAck.Properties.Get<byte[]>(Prop.AuthenticationData)),
            "The CONNACK's Authentication Data is not the server-final-message v=ServerSignature (RFC 5802 §3).");

        // Authenticated as alice, the connection is served like any other.
        var topic = TestNames.Topic("scram");
        Assert.Equal([0x01], await client.SubscribeV5Async(topic, qos: 1));
        Assert.Equal(0x00, await client.PublishV5Async(topic, "hello", qos: 1));
        Assert.Equal("hello", (await client.ReceiveV5Async()).PayloadText);
    }

    [SkippableFact]
    public async Task MQTT_4_12_0_4_a_proof_made_with_the_wrong_password_gets_CONNACK_0x86_then_close()
    {
        CicadaOnly();
        var scram = new ScramClient(AuthBrokerFixture.User, AuthBrokerFixture.Password) { ProofPassword = AuthBrokerFixture.OtherPassword };

        var (client, connAck) = await ScramConnectAsync(scram);
        await using var _ = client;

        await ExpectRefusedAsync(client, connAck, 0x86);
    }

    [SkippableFact]
    public async Task MQTT_4_12_0_4_an_unknown_user_is_challenged_like_a_known_one_and_refused_with_0x86()
    {
        CicadaOnly();
        var scram = new ScramClient("mallory", "guess");

        var (client, connAck) = await ScramConnectAsync(scram);
        await using var _ = client;

        await ExpectRefusedAsync(client, connAck, 0x86);
    }

    [SkippableFact]
    public async Task MQTT_4_12_0_4_a_User_Name_naming_another_user_than_the_one_SCRAM_proved_gets_0x87()
    {
        CicadaOnly();
        var scram = new ScramClient(AuthBrokerFixture.User, AuthBrokerFixture.Password);

        var (client, connAck) = await ScramConnectAsync(scram, userName: AuthBrokerFixture.OtherUser);
        await using var _ = client;

        await ExpectRefusedAsync(client, connAck, 0x87);
    }

    [SkippableFact]
    public async Task MQTT_4_12_0_5_an_AUTH_naming_another_method_during_the_exchange_is_a_protocol_error()
    {
        CicadaOnly();
        var scram = new ScramClient(AuthBrokerFixture.User, AuthBrokerFixture.Password);
        await using var client = await RawMqttClient.OpenAsync(_port);
        await client.SendAsync(V5Packets.Connect(ScramConnect(scram)));
        var (_, props) = ReadAuth(await client.ReadPacketAsync());

        await client.SendIgnoringErrorsAsync(V5Packets.Auth(0x18, AuthProps(scram.ClientFinal(props.Get<byte[]>(Prop.AuthenticationData)!), "SCRAM-SHA-1")));

        var connAck = V5ConnAck.From(Assert.Single(await client.ExpectClosedAsync()));
        Assert.Equal(0x82, connAck.Reason);
    }

    [SkippableFact]
    public async Task MQTT_4_12_0_3_the_client_answers_the_servers_AUTH_with_0x18_and_nothing_else()
    {
        CicadaOnly();
        var scram = new ScramClient(AuthBrokerFixture.User, AuthBrokerFixture.Password);
        await using var client = await RawMqttClient.OpenAsync(_port);
        await client.SendAsync(V5Packets.Connect(ScramConnect(scram)));
        var (_, props) = ReadAuth(await client.ReadPacketAsync());

        await client.SendIgnoringErrorsAsync(V5Packets.Auth(0x19, AuthProps(scram.ClientFinal(props.Get<byte[]>(Prop.AuthenticationData)!))));

        var connAck = V5ConnAck.From(Assert.Single(await client.ExpectClosedAsync()));
        Assert.Equal(0x82, connAck.Reason);
    }

    [SkippableFact]
    public async Task MQTT_3_1_2_30_a_PUBLISH_before_CONNACK_while_authenticating_is_a_protocol_error()
    {
        CicadaOnly();
        var scram = new ScramClient(AuthBrokerFixture.User, AuthBrokerFixture.Password);
        await using var client = await RawMqttClient.OpenAsync(_port);
        await client.SendAsync(V5Packets.Connect(ScramConnect(scram)));
        ReadAuth(await client.ReadPacketAsync());

        await client.SendIgnoringErrorsAsync(V5Packets.Publish(TestNames.Topic("early"), "too soon"));

        var connAck = V5ConnAck.From(Assert.Single(await client.ExpectClosedAsync()));
        Assert.Equal(0x82, connAck.Reason);
    }

    [SkippableFact]
    public async Task MQTT_3_1_0_1_an_AUTH_before_CONNECT_closes_the_connection_without_a_CONNACK()
    {
        CicadaOnly();
        await using var client = await RawMqttClient.OpenAsync(_port);

        await client.SendIgnoringErrorsAsync(V5Packets.Auth(0x18, AuthProps(new ScramClient("x", "y").ClientFirst())));

        Assert.Empty(await client.ExpectClosedAsync());
    }

    [SkippableFact]
    public async Task Section_3_1_2_11_10_Authentication_Data_without_a_method_is_a_protocol_error()
    {
        CicadaOnly();
        var (client, connAck) = await V5Client.ConnectAsync(_port, new V5Connect
        {
            ClientId = TestNames.ClientId("data"),
            Properties = new V5Props().Binary(Prop.AuthenticationData, [1, 2, 3]),
            UserName = AuthBrokerFixture.User,
            Password = AuthBrokerFixture.Password,
        });
        await using var _ = client;

        await ExpectRefusedAsync(client, connAck, 0x82);
    }

    [SkippableFact]
    public async Task MQTT_4_12_1_1_re_authentication_with_the_same_method_ends_with_AUTH_0x00_and_the_connection_keeps_working()
    {
        CicadaOnly();
        var (client, connAck) = await ScramConnectAsync(new ScramClient(AuthBrokerFixture.User, AuthBrokerFixture.Password));
        await using var _ = client;
        Assert.Equal(0x00, connAck.Reason);
        var topic = TestNames.Topic("reauth");
        await client.SubscribeV5Async(topic, qos: 1);

        var again = new ScramClient(AuthBrokerFixture.User, AuthBrokerFixture.Password);
        await client.SendAsync(V5Packets.Auth(0x19, AuthProps(again.ClientFirst())));
        var (reason, props) = ReadAuth(await client.ReadPacketAsync());
        Assert.Equal(0x18, reason);
        Assert.Equal(ScramClient.Method, props.Get<string>(Prop.AuthenticationMethod));

        // §4.12.1: other packets keep flowing under the previous authentication meanwhile.
        Assert.Equal(0x00, await client.PublishV5Async(topic, "during", qos: 1));
        Assert.Equal("during", (await client.ReceiveV5Async()).PayloadText);

        await client.SendAsync(V5Packets.Auth(0x18, AuthProps(again.ClientFinal(props.Get<byte[]>(Prop.AuthenticationData)!))));
        var (done, final) = ReadAuth(await client.ReadPacketSkippingAsync(Auth));
        Assert.Equal(0x00, done);
        Assert.Equal(ScramClient.Method, final.Get<string>(Prop.AuthenticationMethod));
        Assert.True(again.VerifyServerFinal(final.Get<byte[]>(Prop.AuthenticationData)));

        Assert.Equal(0x00, await client.PublishV5Async(topic, "after", qos: 1));
        Assert.Equal("after", (await client.ReceiveV5Async()).PayloadText);
    }

    [SkippableFact]
    public async Task MQTT_4_12_1_1_re_authentication_with_another_method_is_a_protocol_error()
    {
        CicadaOnly();
        var (client, _) = await ScramConnectAsync(new ScramClient(AuthBrokerFixture.User, AuthBrokerFixture.Password));
        await using var __ = client;

        await client.SendIgnoringErrorsAsync(V5Packets.Auth(0x19, AuthProps(new ScramClient(AuthBrokerFixture.User, "x").ClientFirst(), "SCRAM-SHA-512")));

        await client.ExpectDisconnectAsync(0x82);
    }

    [SkippableFact]
    public async Task MQTT_4_12_0_3_an_AUTH_0x18_after_CONNACK_that_answers_nothing_is_a_protocol_error()
    {
        CicadaOnly();
        var (client, _) = await ScramConnectAsync(new ScramClient(AuthBrokerFixture.User, AuthBrokerFixture.Password));
        await using var __ = client;

        await client.SendIgnoringErrorsAsync(V5Packets.Auth(0x18, AuthProps([1])));

        await client.ExpectDisconnectAsync(0x82);
    }

    [SkippableFact]
    public async Task MQTT_4_12_1_2_a_failed_re_authentication_gets_DISCONNECT_0x87_then_close()
    {
        CicadaOnly();
        var (client, _) = await ScramConnectAsync(new ScramClient(AuthBrokerFixture.User, AuthBrokerFixture.Password));
        await using var __ = client;

        var wrong = new ScramClient(AuthBrokerFixture.User, AuthBrokerFixture.Password) { ProofPassword = "not it" };
        await client.SendAsync(V5Packets.Auth(0x19, AuthProps(wrong.ClientFirst())));
        var (_, props) = ReadAuth(await client.ReadPacketAsync());
        await client.SendIgnoringErrorsAsync(V5Packets.Auth(0x18, AuthProps(wrong.ClientFinal(props.Get<byte[]>(Prop.AuthenticationData)!))));

        await client.ExpectDisconnectAsync(0x87);
    }

    [SkippableFact]
    public async Task MQTT_4_12_1_2_re_authenticating_as_another_user_fails_with_DISCONNECT_0x87()
    {
        CicadaOnly();
        var (client, _) = await ScramConnectAsync(new ScramClient(AuthBrokerFixture.User, AuthBrokerFixture.Password));
        await using var __ = client;

        var bob = new ScramClient(AuthBrokerFixture.OtherUser, AuthBrokerFixture.OtherPassword);
        await client.SendAsync(V5Packets.Auth(0x19, AuthProps(bob.ClientFirst())));
        var (_, props) = ReadAuth(await client.ReadPacketAsync());
        await client.SendIgnoringErrorsAsync(V5Packets.Auth(0x18, AuthProps(bob.ClientFinal(props.Get<byte[]>(Prop.AuthenticationData)!))));

        await client.ExpectDisconnectAsync(0x87);
    }

    [SkippableFact]
    public async Task MQTTnet_enhanced_authentication_handler_logs_in_with_SCRAM_SHA_256_and_verifies_the_server()
    {
        CicadaOnly();
        var scram = new ScramClient(AuthBrokerFixture.OtherUser, AuthBrokerFixture.OtherPassword);
        var topic = TestNames.Topic("mqttnet-scram");

        await using var net = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("net"), configure: o => o
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithEnhancedAuthentication(ScramClient.Method, scram.ClientFirst())
            .WithEnhancedAuthenticationHandler(new ScramHandler(scram)));

        Assert.Equal(MqttClientConnectResultCode.Success, net.ConnectResult.ResultCode);
        Assert.Equal(ScramClient.Method, net.ConnectResult.AuthenticationMethod);
        Assert.True(scram.VerifyServerFinal(net.ConnectResult.AuthenticationData));

        await net.SubscribeAsync(topic, 1);
        await net.PublishAsync(topic, "over SCRAM", 1);
        Assert.Equal("over SCRAM", (await net.NextMessageAsync()).Payload);
    }

    /// <summary>MQTTnet calls this for the server's AUTH 0x18: the answer is the client-final-message.</summary>
    private sealed class ScramHandler(ScramClient scram) : IMqttEnhancedAuthenticationHandler
    {
        public Task HandleEnhancedAuthenticationAsync(MqttEnhancedAuthenticationEventArgs eventArgs) =>
            eventArgs.SendAsync(new SendMqttEnhancedAuthenticationDataOptions { Data = scram.ClientFinal(eventArgs.AuthenticationData) },
                eventArgs.CancellationToken);
    }
}
