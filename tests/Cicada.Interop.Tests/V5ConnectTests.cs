using System.Text.Json.Nodes;
using Cicada.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 5 §3.1/§3.2: CONNECT and CONNACK, its properties and refusals, and the server's DISCONNECT reasons (§4.13).</summary>
public sealed class V5ConnectTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    [SkippableFact]
    public async Task Section_3_2_2_3_CONNACK_announces_what_cicada_allows()
    {
        KnownDeviation.CicadaOnly("the announced values are Cicada's defaults (Mqtt:ReceiveMaximum, MaxPacketSize, TopicAliasMaximum)");
        var (client, connAck) = await V5Client.ConnectAsync(_port, new V5Connect { ClientId = TestNames.ClientId("v5") });
        await using var _ = client;

        Assert.Equal((false, (byte)0), (connAck.SessionPresent, connAck.Reason));
        var p = connAck.Properties;
        Assert.Equal((ushort)1024, p.Get<ushort?>(Prop.ReceiveMaximum));
        Assert.Equal(1_048_576u, p.Get<uint?>(Prop.MaximumPacketSize));
        Assert.Equal((ushort)64, p.Get<ushort?>(Prop.TopicAliasMaximum));
        Assert.Equal((byte)1, p.Get<byte?>(Prop.RetainAvailable));
        Assert.Equal((byte)1, p.Get<byte?>(Prop.WildcardSubscriptionAvailable));
        Assert.Equal((byte)1, p.Get<byte?>(Prop.SubscriptionIdentifierAvailable));
        Assert.Equal((byte)1, p.Get<byte?>(Prop.SharedSubscriptionAvailable));
        Assert.False(p.Has(Prop.MaximumQos)); // absent = QoS 2 supported (§3.2.2.3.4)
        Assert.False(p.Has(Prop.AssignedClientIdentifier)); // the client chose its id
        Assert.DoesNotContain(p.GroupBy(x => x.Id), g => g.Key != Prop.UserProperty && g.Count() > 1); // MQTT-2.2.2-2 applies to servers too
    }

    [Fact]
    public async Task MQTT_3_1_3_7_an_empty_client_id_gets_an_assigned_client_identifier()
    {
        var (first, connAck) = await V5Client.ConnectAsync(_port, new V5Connect { ClientId = "" });
        await using var _ = first;
        var (second, other) = await V5Client.ConnectAsync(_port, new V5Connect { ClientId = "" });
        await using var __ = second;

        Assert.Equal(0, connAck.Reason);
        var assigned = connAck.Properties.Get<string>(Prop.AssignedClientIdentifier);
        Assert.False(string.IsNullOrEmpty(assigned));
        Assert.NotEqual(assigned, other.Properties.Get<string>(Prop.AssignedClientIdentifier)); // unique (MQTT-3.1.3-6)
        await first.AssertOpenAsync(); // the second did not take the first over
    }

    [Fact]
    public async Task MQTT_3_2_2_2_session_present_when_a_session_with_expiry_is_resumed()
    {
        var id = TestNames.ClientId("sp");
        var client = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = id, SessionExpiry = 60 });
        await client.SubscribeV5Async(TestNames.Topic("sp"));
        await client.DisconnectAndWaitForCloseAsync();
        await client.DisposeAsync();

        var (again, connAck) = await V5Client.ConnectAsync(_port, new V5Connect { ClientId = id, CleanStart = false, SessionExpiry = 0 });
        await using var _ = again;

        Assert.Equal((true, (byte)0), (connAck.SessionPresent, connAck.Reason));
    }

    [Fact]
    public async Task MQTT_4_12_0_1_an_unsupported_authentication_method_gets_CONNACK_0x8C()
    {
        var (client, connAck) = await V5Client.ConnectAsync(_port, new V5Connect
        {
            ClientId = TestNames.ClientId("auth"),
            Properties = new V5Props().String(Prop.AuthenticationMethod, "X-UNKNOWN-METHOD"),
        });
        await using var _ = client;

        Assert.Equal(0x8C, connAck.Reason);
        Assert.False(connAck.SessionPresent); // MQTT-3.2.2-6
        await client.ExpectClosedAsync(); // MQTT-3.2.2-7
    }

    [Fact]
    public async Task MQTT_2_2_2_2_a_CONNECT_with_a_duplicated_property_is_refused()
    {
        await using var client = await RawMqttClient.OpenAsync(_port);
        await client.SendAsync(V5Packets.Connect(new V5Connect
        {
            ClientId = TestNames.ClientId("dup"),
            Properties = new V5Props().UInt32(Prop.SessionExpiryInterval, 1).UInt32(Prop.SessionExpiryInterval, 2),
        }));

        var packets = await client.ExpectClosedAsync();

        // §4.13.1: the server MAY send CONNACK with a reason ≥ 0x80 first; it must not accept.
        Assert.All(packets, p => Assert.True(p.Type == PacketType.ConnAck && p.ReturnCode >= 0x80, $"Unexpected {p}"));
        if (!BrokerProcess.IsMosquitto)
        {
            Assert.Equal(0x82, Assert.Single(packets).ReturnCode);
        }
    }

    [SkippableFact]
    public async Task MQTT_3_1_2_1_an_unknown_protocol_name_gets_CONNACK_0x84_then_close()
    {
        KnownDeviation.CicadaOnly("the CONNACK is a MAY (MQTT-3.1.2-1); mosquitto closes without one");
        var connect = V5Packets.Connect(new V5Connect { ClientId = TestNames.ClientId("name") });
        Assert.Equal("MQTT"u8.ToArray(), connect[4..8]); // fixed header (2) + name length (2)
        connect[7] = (byte)'X';
        await using var client = await RawMqttClient.OpenAsync(_port);

        await client.SendAsync(connect);
        var packets = await client.ExpectClosedAsync();

        var connAck = V5ConnAck.From(Assert.Single(packets));
        Assert.Equal((false, (byte)0x84), (connAck.SessionPresent, connAck.Reason)); // MQTT-3.2.2-6; MQTT-3.14.0-1: no DISCONNECT
    }

    [Fact]
    public async Task MQTT_3_1_0_2_a_second_CONNECT_is_a_protocol_error()
    {
        var id = TestNames.ClientId("twice");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, id);

        await client.SendIgnoringErrorsAsync(V5Packets.Connect(new V5Connect { ClientId = id }));

        await client.ExpectDisconnectAsync(0x82);
    }

    [Fact]
    public async Task MQTT_3_1_4_3_a_taken_over_connection_gets_DISCONNECT_0x8E()
    {
        var id = TestNames.ClientId("take");
        await using var older = await V5Client.ConnectAcceptedAsync(_port, id);

        await using var newer = await V5Client.ConnectAcceptedAsync(_port, id);

        await older.ExpectDisconnectAsync(0x8E);
        await newer.AssertOpenAsync();
    }

    [Fact]
    public async Task MQTT_3_1_2_22_a_keep_alive_timeout_gets_DISCONNECT_0x8D()
    {
        await using var client = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = TestNames.ClientId("ka"), KeepAlive = 1 });

        // Silence: after 1.5 × 1 s the server closes (MQTT-3.1.2-22), saying why (§4.13).
        await client.ExpectDisconnectAsync(0x8D);
    }

    [Fact]
    public async Task Section_4_13_a_malformed_packet_after_CONNACK_gets_DISCONNECT_0x81()
    {
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("bad"));

        await client.SendIgnoringErrorsAsync([0x36, 0x05, 0x00, 0x01, (byte)'x', 0x00, 0x01]); // PUBLISH QoS 3 (MQTT-3.3.1-4)

        await client.ExpectDisconnectAsync(0x81);
        await BrokerAssert.StillServesAsync(_port);
    }

    [Fact]
    public async Task MQTT_4_12_0_7_AUTH_without_an_authentication_method_in_CONNECT_is_a_protocol_error()
    {
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("auth"));

        await client.SendIgnoringErrorsAsync(V5Packets.Auth(0x18, new V5Props().String(Prop.AuthenticationMethod, "SCRAM-SHA-256")));

        await client.ExpectDisconnectAsync(0x82);
    }

    [Fact]
    public async Task MQTT_3_14_2_2_a_DISCONNECT_that_sets_an_expiry_after_CONNECT_said_0_is_a_protocol_error()
    {
        await using var client = await V5Client.ConnectAcceptedAsync(_port, new V5Connect { ClientId = TestNames.ClientId("exp"), SessionExpiry = 0 });

        await client.SendIgnoringErrorsAsync(V5Packets.Disconnect(0x00, new V5Props().UInt32(Prop.SessionExpiryInterval, 60)));

        await client.ExpectDisconnectAsync(0x82);
    }

    [Fact]
    public async Task Section_3_2_paho_reads_the_CONNACK_properties()
    {
        var result = await PahoV5Client.RunAsync(_port, new JsonObject { ["id"] = "" });

        var connAck = result.ConnAck;
        Assert.Equal(0, (int)connAck["reason"]!);
        var props = connAck["props"]!.AsObject();
        Assert.False(string.IsNullOrEmpty((string?)props["AssignedClientIdentifier"]));
        if (props["ReceiveMaximum"] is { } receiveMaximum)
        {
            Assert.InRange((int)receiveMaximum, 1, 65_535);
        }
    }

    [Fact]
    public async Task Section_3_2_MQTTnet_reads_the_CONNACK_properties()
    {
        await using var client = await MqttNetClient.ConnectAsync(_port, "", configure: b => b.WithProtocolVersion(MqttProtocolVersion.V500));

        var result = client.ConnectResult;
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        Assert.False(string.IsNullOrEmpty(result.AssignedClientIdentifier));
        Assert.True(result.RetainAvailable);
        Assert.True(result.WildcardSubscriptionAvailable);
        Assert.True(result.SubscriptionIdentifiersAvailable);
        Assert.True(result.SharedSubscriptionAvailable);
        if (!BrokerProcess.IsMosquitto)
        {
            Assert.Equal(((ushort?)1024, (uint?)1_048_576, (ushort)64), (result.ReceiveMaximum, result.MaximumPacketSize, result.TopicAliasMaximum));
        }

        await client.DisconnectAsync();
    }
}
