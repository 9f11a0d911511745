using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>
/// MQTT 3.1.1 §3.1.3.4–3.1.3.5 user name and password, §3.2.2.3 return codes 0x04/0x05, against a
/// broker whose users file was written by the broker's own password tool and which refuses
/// anonymous clients.
/// </summary>
public sealed class AuthTests(AuthBrokerFixture fixture) : IClassFixture<AuthBrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_3_2_2_3_correct_credentials_are_accepted(MqttVersion version)
    {
        var (client, connAck) = await RawMqttClient.ConnectAsync(_port, Credentials(AuthBrokerFixture.User, AuthBrokerFixture.Password, version));
        await using var _ = client;

        Assert.Equal(0x00, connAck.ReturnCode);
        await client.AssertOpenAsync();
    }

    /// <summary>
    /// The return code for a user name with the wrong password. §3.2.2.3 names 0x04 "bad user name
    /// or password" and 0x05 "not authorized" without a normative statement choosing between them;
    /// Cicada answers 0x04 (the code named for it). mosquitto answers every failed authentication
    /// with 0x05, so on mosquitto either code is accepted — the refusal and the close still count.
    /// </summary>
    private static byte[] BadPasswordCodes => BrokerProcess.IsMosquitto ? [0x04, 0x05] : [0x04];

    [Fact]
    public async Task MQTT_3_2_2_3_wrong_password_gets_0x04_then_close()
    {
        await AssertRefusedAsync(Credentials(AuthBrokerFixture.User, "wrong"), BadPasswordCodes);
    }

    [Fact]
    public async Task MQTT_3_2_2_3_another_users_password_gets_0x04_then_close()
    {
        await AssertRefusedAsync(Credentials(AuthBrokerFixture.User, AuthBrokerFixture.OtherPassword), BadPasswordCodes);
    }

    [Fact]
    public async Task MQTT_3_2_2_3_user_name_without_password_is_refused()
    {
        // The user exists but proves nothing; 0x04 ("bad user name or password") or 0x05 ("not
        // authorized") both describe that, so either is accepted — but never 0x00.
        await AssertRefusedAsync(Credentials(AuthBrokerFixture.User, password: null), 0x04, 0x05);
    }

    [Fact]
    public async Task MQTT_3_2_2_3_unknown_user_is_refused()
    {
        await AssertRefusedAsync(Credentials("mallory", "guess"), 0x04, 0x05);
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_3_2_2_3_anonymous_client_gets_0x05_when_anonymous_access_is_off(MqttVersion version)
    {
        await AssertRefusedAsync(new ConnectOptions { ClientId = TestNames.ClientId("anon"), Version = version }, 0x05);
    }

    [Fact]
    public async Task MQTT_3_1_3_5_password_is_binary_safe_and_case_sensitive()
    {
        await AssertRefusedAsync(Credentials(AuthBrokerFixture.User, AuthBrokerFixture.Password.ToUpperInvariant()), BadPasswordCodes);
        await AssertRefusedAsync(Credentials(AuthBrokerFixture.User, AuthBrokerFixture.Password + " "), BadPasswordCodes);
    }

    [Fact]
    public async Task Authenticated_clients_of_every_library_can_exchange_messages()
    {
        var topic = TestNames.Topic("auth");
        await using var net = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("net"), configure: o => o.WithCredentials(AuthBrokerFixture.OtherUser, AuthBrokerFixture.OtherPassword));
        await net.SubscribeAsync(topic, 1);

        await MosquittoClients.PublishAsync(_port, topic, "from mosquitto_pub", qos: 1, extra: ["-u", AuthBrokerFixture.User, "-P", AuthBrokerFixture.Password]);
        Assert.Equal("from mosquitto_pub", (await net.NextMessageAsync()).Payload);

        var (returnCode, _) = await PahoClient.ConnectAsync(_port, user: AuthBrokerFixture.User, password: AuthBrokerFixture.Password);
        Assert.Equal(0, returnCode);
        var (refused, _) = await PahoClient.ConnectAsync(_port, user: AuthBrokerFixture.User, password: "nope");
        Assert.Contains((byte)refused, BadPasswordCodes);
    }

    [Fact]
    public async Task MQTTnet_client_with_wrong_password_is_refused()
    {
        // MQTTnet 5 reports a refused CONNACK either as a failed result or as an exception that
        // names the result code, depending on the path; both must say "bad user name or password".
        try
        {
            await using var client = await MqttNetClient.ConnectAsync(
                _port, TestNames.ClientId("net"), configure: o => o.WithCredentials(AuthBrokerFixture.OtherUser, "not it"));
            Assert.Contains((byte)client.ConnectResult.ResultCode, BadPasswordCodes.Select(ToMqttNetCode));
            Assert.False(client.Client.IsConnected);
        }
        catch (MQTTnet.Adapter.MqttConnectingFailedException refused)
        {
            Assert.Contains(BadPasswordCodes, code => refused.Message.Contains(((MQTTnet.MqttClientConnectResultCode)ToMqttNetCode(code)).ToString(), StringComparison.Ordinal));
        }
    }

    /// <summary>MQTTnet maps 3.1.1 return codes onto MQTT 5 reason codes (0x04 → 0x86, 0x05 → 0x87).</summary>
    private static byte ToMqttNetCode(byte code) => code switch
    {
        0x04 => (byte)MQTTnet.MqttClientConnectResultCode.BadUserNameOrPassword,
        0x05 => (byte)MQTTnet.MqttClientConnectResultCode.NotAuthorized,
        _ => code,
    };

    private async Task AssertRefusedAsync(ConnectOptions options, params byte[] acceptableCodes)
    {
        await using var client = await RawMqttClient.OpenAsync(_port);
        await client.SendAsync(MqttPackets.Connect(options));

        var packets = await client.ExpectClosedAsync(); // MQTT-3.2.2-5: refuse, then close

        var connAck = Assert.Single(packets);
        Assert.Equal(PacketType.ConnAck, connAck.Type);
        Assert.Contains(connAck.ReturnCode, acceptableCodes);
        Assert.False(connAck.SessionPresent); // MQTT-3.2.2-4
    }

    private static ConnectOptions Credentials(string user, string? password, MqttVersion version = MqttVersion.V311) => new()
    {
        ClientId = TestNames.ClientId("auth"),
        Version = version,
        UserName = user,
        Password = password,
    };
}
