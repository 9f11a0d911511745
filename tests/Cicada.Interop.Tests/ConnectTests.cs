using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 3.1.1 §3.1 CONNECT and §3.2 CONNACK, for 3.1.1 and 3.1 clients.</summary>
public sealed class ConnectTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_3_2_2_3_connect_is_accepted_with_return_code_0_and_no_session_present(MqttVersion version)
    {
        var (client, connAck) = await RawMqttClient.ConnectAsync(_port, new ConnectOptions { ClientId = TestNames.ClientId(), Version = version });
        await using var _ = client;

        Assert.Equal(0x20, connAck.Header);
        Assert.Equal(2, connAck.Body.Length);
        Assert.Equal(0, connAck.ReturnCode);
        Assert.False(connAck.SessionPresent); // MQTT-3.2.2-1: clean session → session present 0
        await client.AssertOpenAsync();
    }

    [Theory]
    [InlineData((byte)6)]
    [InlineData((byte)2)]
    public async Task MQTT_3_1_2_2_unacceptable_protocol_level_gets_connack_0x01_then_close(byte level)
    {
        await using var client = await RawMqttClient.OpenAsync(_port);
        await client.SendAsync(MqttPackets.Connect(new ConnectOptions { ClientId = TestNames.ClientId(), ProtocolLevel = level }));

        var packets = await client.ExpectClosedAsync();

        var connAck = Assert.Single(packets);
        Assert.Equal(PacketType.ConnAck, connAck.Type);
        Assert.Equal(0x01, connAck.ReturnCode);
        Assert.False(connAck.SessionPresent); // MQTT-3.2.2-4
    }

    [Fact]
    public async Task MQTT_3_1_3_8_empty_client_id_with_clean_session_0_gets_connack_0x02_then_close()
    {
        await using var client = await RawMqttClient.OpenAsync(_port);
        await client.SendAsync(MqttPackets.Connect(new ConnectOptions { ClientId = "", CleanSession = false }));

        var packets = await client.ExpectClosedAsync(); // MQTT-3.1.3-9: respond 0x02, then close

        var connAck = Assert.Single(packets);
        Assert.Equal(PacketType.ConnAck, connAck.Type);
        Assert.Equal(0x02, connAck.ReturnCode);
    }

    [Fact]
    public async Task MQTT_3_1_3_6_empty_client_id_with_clean_session_1_is_accepted()
    {
        var (client, connAck) = await RawMqttClient.ConnectAsync(_port, new ConnectOptions { ClientId = "", CleanSession = true });
        await using var _ = client;

        Assert.Equal(0, connAck.ReturnCode);

        // MQTT-3.1.3-7: the server treats it as a unique client id — the connection is fully usable.
        var topic = TestNames.Topic("anon");
        await client.SubscribeAsync(topic, 1);
        await client.PublishAsync(topic, "hello", qos: 1);
        Assert.Equal("hello", (await client.ReceivePublishAsync()).PayloadText);
    }

    [Fact]
    public async Task MQTT_3_1_0_1_first_packet_not_connect_closes_connection()
    {
        await using var client = await RawMqttClient.OpenAsync(_port);
        await client.SendAsync(MqttPackets.Publish(TestNames.Topic("early"), "too soon"));

        var packets = await client.ExpectClosedAsync();

        Assert.Empty(packets);
        await BrokerAssert.StillServesAsync(_port);
    }

    [Fact]
    public async Task MQTT_3_1_0_1_pingreq_before_connect_closes_connection()
    {
        await using var client = await RawMqttClient.OpenAsync(_port);
        await client.SendAsync(MqttPackets.PingReq());

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.PingResp);
    }

    [Fact]
    public async Task MQTT_3_1_0_2_second_connect_closes_connection()
    {
        var clientId = TestNames.ClientId();
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, clientId);
        await client.SendAsync(MqttPackets.Connect(new ConnectOptions { ClientId = clientId }));

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.ConnAck);
        await BrokerAssert.StillServesAsync(_port);
    }

    [Fact]
    public async Task MQTT_3_1_2_3_reserved_connect_flag_set_closes_connection()
    {
        await using var client = await RawMqttClient.OpenAsync(_port);
        await client.SendAsync(MqttPackets.Connect(new ConnectOptions { ClientId = TestNames.ClientId(), ExtraFlags = 0x01 }));

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.ConnAck && p.ReturnCode == 0);
    }

    [Theory]
    [InlineData("MQTX", (byte)4)]
    [InlineData("mqtt", (byte)4)]
    [InlineData("MQIsdp", (byte)4)]
    public async Task MQTT_3_1_2_1_invalid_protocol_name_closes_connection(string protocolName, byte level)
    {
        // MQTT-3.1.2-1 lets a server either disconnect or process the CONNECT "in accordance with
        // some other specification"; a broker speaking only MQTT must disconnect and must certainly
        // not accept it as MQTT.
        await using var client = await RawMqttClient.OpenAsync(_port);
        await client.SendAsync(MqttPackets.Connect(new ConnectOptions { ClientId = TestNames.ClientId(), ProtocolName = protocolName, ProtocolLevel = level }));

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.ConnAck && p.ReturnCode == 0);
    }

    [Fact]
    public async Task MQTT_3_1_2_11_will_qos_without_will_flag_closes_connection()
    {
        // MQTT-3.1.2-11/-13: will flag 0 → will QoS MUST be 0 (here 1: flags = clean session | will QoS 1).
        await using var client = await RawMqttClient.OpenAsync(_port);
        await client.SendAsync(MqttPackets.Connect(new ConnectOptions { ClientId = TestNames.ClientId(), FlagsOverride = 0x02 | 0x08 }));

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.ConnAck && p.ReturnCode == 0);
    }

    [Fact]
    public async Task MQTT_3_1_2_14_will_qos_3_closes_connection()
    {
        await using var client = await RawMqttClient.OpenAsync(_port);
        await client.SendAsync(MqttPackets.Connect(new ConnectOptions
        {
            ClientId = TestNames.ClientId(),
            WillTopic = TestNames.Topic("will"),
            WillPayload = "x"u8.ToArray(),
            WillQoS = 3,
        }));

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.ConnAck && p.ReturnCode == 0);
    }

    [Fact]
    public async Task MQTT_3_1_2_22_password_without_user_name_closes_connection()
    {
        await using var client = await RawMqttClient.OpenAsync(_port);
        await client.SendAsync(MqttPackets.Connect(new ConnectOptions { ClientId = TestNames.ClientId(), Password = "secret" }));

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.ConnAck && p.ReturnCode == 0);
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_3_2_connack_accepted_for_mqttnet_client(MqttVersion version)
    {
        await using var client = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("net"), version);

        Assert.Equal(MQTTnet.MqttClientConnectResultCode.Success, client.ConnectResult.ResultCode);
        Assert.False(client.ConnectResult.IsSessionPresent);
        Assert.Equal(MqttNetClient.ToMqttNet(version), client.Client.Options.ProtocolVersion);
        await client.DisconnectAsync();
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_3_2_connack_accepted_for_paho_client(MqttVersion version)
    {
        var (returnCode, sessionPresent) = await PahoClient.ConnectAsync(_port, version);

        Assert.Equal(0, returnCode);
        Assert.False(sessionPresent);
    }

    [Fact]
    public async Task MQTT_3_1_protocol_level_3_clients_round_trip_with_mosquitto_clients()
    {
        var topic = TestNames.Topic("v31");
        await using var subscriber = await MosquittoClients.SubscribeAsync(_port, topic, qos: 1, count: 1, version: MqttVersion.V31);
        await MosquittoClients.PublishAsync(_port, topic, "from 3.1", qos: 1, version: MqttVersion.V31);

        var message = Assert.Single(await subscriber.WaitForExitAsync());
        Assert.Equal("from 3.1", message.Payload);
    }
}
