using System.Text;
using Cicada.Core;
using Cicada.Mqtt.Protocol;

namespace Cicada.Mqtt.Tests;

/// <summary>CONNECT (MQTT 3.1.1 §3.1, MQTT 3.1 "MQIsdp").</summary>
public class ConnectDecodingTests
{
    private const byte CleanSession = 0x02;
    private const byte WillFlag = 0x04;
    private const byte WillRetain = 0x20;
    private const byte PasswordFlag = 0x40;
    private const byte UserNameFlag = 0x80;

    private static int WillQos(int qos) => qos << 3;

    /// <summary>Variable header (§3.1.2) then whatever payload the test writes.</summary>
    private static PacketBuilder Header(int flags, string name = "MQTT", byte level = 4, int keepAlive = 60) =>
        new PacketBuilder().String(name).Bytes(level, (byte)flags).UInt16(keepAlive);

    private static ConnectPacket Decode(PacketBuilder body) => MqttDecoder.DecodeConnect(body.ToArray());

    private static string Violation(PacketBuilder body) =>
        Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeConnect(body.ToArray())).Rule;

    [Fact]
    public void A_full_3_1_1_CONNECT_decodes_every_field()
    {
        var packet = Decode(Header(CleanSession | WillFlag | WillQos(2) | WillRetain | UserNameFlag | PasswordFlag, keepAlive: 0x1234)
            .String("sensor-1").String("status/sensor-1").Binary(0x00, 0xFF).String("user").Binary(1, 2, 3));

        Assert.Equal("MQTT", packet.ProtocolName);
        Assert.Equal(MqttProtocolLevel.V311, packet.ProtocolLevel);
        Assert.True(packet.CleanSession);
        Assert.Equal(0x1234, packet.KeepAliveSeconds);
        Assert.Equal("sensor-1", packet.ClientId);
        Assert.Equal("status/sensor-1", packet.WillTopic);
        Assert.Equal([0x00, 0xFF], packet.WillPayload);
        Assert.Equal(QoS.ExactlyOnce, packet.WillQos);
        Assert.True(packet.WillRetain);
        Assert.Equal("user", packet.Username);
        Assert.Equal([1, 2, 3], packet.Password);
    }

    [Fact]
    public void A_minimal_CONNECT_has_no_will_and_no_credentials()
    {
        var packet = Decode(Header(0).String("c"));

        Assert.False(packet.CleanSession);
        Assert.Null(packet.WillTopic);
        Assert.Null(packet.WillPayload);
        Assert.Null(packet.Username);
        Assert.Null(packet.Password);
    }

    [Fact]
    public void MQTT_3_1_3_3_an_empty_client_id_decodes_and_is_left_to_the_session_rules() =>
        Assert.Equal("", Decode(Header(CleanSession).String("")).ClientId);

    [Theory]
    [InlineData("MQTX")]
    [InlineData("mqtt")]
    [InlineData("MQIsdpX")]
    [InlineData("")]
    public void MQTT_3_1_2_1_an_unknown_protocol_name_is_a_violation(string name) =>
        Assert.Equal("MQTT-3.1.2-1", Violation(Header(CleanSession, name).String("c")));

    [Theory]
    [InlineData("MQTT", 3)]
    [InlineData("MQTT", 0)]
    [InlineData("MQIsdp", 4)]
    [InlineData("MQIsdp", 255)]
    public void MQTT_3_1_2_2_an_unsupported_level_is_returned_for_a_CONNACK_0x01_without_parsing_further(string name, byte level)
    {
        // Flags and payload are those of some other protocol version: they must not be judged.
        var packet = Decode(Header(0xFF, name, level).Bytes(0xDE, 0xAD));

        Assert.Equal(name, packet.ProtocolName);
        Assert.Equal(level, packet.ProtocolLevel);
    }

    [Fact]
    public void MQTT_3_1_level_3_with_MQIsdp_decodes()
    {
        var packet = Decode(Header(CleanSession | UserNameFlag | PasswordFlag, "MQIsdp", 3).String("old").String("u").Binary(9));

        Assert.Equal(MqttProtocolLevel.V31, packet.ProtocolLevel);
        Assert.Equal("old", packet.ClientId);
        Assert.Equal("u", packet.Username);
        Assert.Equal([9], packet.Password);
    }

    [Fact]
    public void MQTT_3_1_a_password_flag_without_a_password_is_tolerated()
    {
        // MQTT 3.1 clients set the flag and omit the field; 3.1.1 forbids that (MQTT-3.1.2-21).
        var packet = Decode(Header(UserNameFlag | PasswordFlag, "MQIsdp", 3).String("old").String("u"));

        Assert.Equal("u", packet.Username);
        Assert.Null(packet.Password);
    }

    [Fact]
    public void MQTT_3_1_2_21_a_3_1_1_password_flag_requires_a_password() =>
        Assert.Throws<MqttProtocolException>(() => Decode(Header(UserNameFlag | PasswordFlag).String("c").String("u")));

    [Fact]
    public void MQTT_3_1_2_19_a_user_name_flag_requires_a_user_name() =>
        Assert.Throws<MqttProtocolException>(() => Decode(Header(UserNameFlag).String("c")));

    [Fact]
    public void MQTT_3_1_2_9_a_will_flag_requires_will_topic_and_message()
    {
        Assert.Throws<MqttProtocolException>(() => Decode(Header(WillFlag).String("c")));
        Assert.Throws<MqttProtocolException>(() => Decode(Header(WillFlag).String("c").String("will/topic")));
    }

    [Fact]
    public void MQTT_3_1_2_3_the_reserved_flag_must_be_zero() =>
        Assert.Equal("MQTT-3.1.2-3", Violation(Header(CleanSession | 0x01).String("c")));

    [Fact]
    public void MQTT_3_1_2_11_and_15_will_retain_without_the_will_flag_is_a_violation() =>
        Assert.Contains(Violation(Header(WillRetain).String("c")), new[] { "MQTT-3.1.2-11", "MQTT-3.1.2-15" });

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void MQTT_3_1_2_13_will_QoS_without_the_will_flag_is_a_violation(int qos) =>
        Assert.Contains(Violation(Header(WillQos(qos)).String("c")), new[] { "MQTT-3.1.2-11", "MQTT-3.1.2-13" });

    [Fact]
    public void MQTT_3_1_2_14_will_QoS_3_is_a_violation() =>
        Assert.Equal("MQTT-3.1.2-14", Violation(Header(WillFlag | WillQos(3)).String("c").String("w").Binary()));

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void MQTT_3_1_2_14_will_QoS_0_to_2_is_accepted(int qos) =>
        Assert.Equal((QoS)qos, Decode(Header(WillFlag | WillQos(qos)).String("c").String("w").Binary()).WillQos);

    [Fact]
    public void MQTT_3_1_2_22_a_password_without_a_user_name_is_a_violation() =>
        Assert.Equal("MQTT-3.1.2-22", Violation(Header(PasswordFlag).String("c").Binary(1)));

    [Theory]
    [InlineData("a/+")]
    [InlineData("#")]
    [InlineData("")]
    public void MQTT_3_1_3_10_the_will_topic_must_be_a_valid_topic_name(string topic) =>
        Assert.Throws<MqttProtocolException>(() => Decode(Header(WillFlag).String("c").String(topic).Binary(1)));

    [Theory]
    [InlineData(0)]            // a user name present without its flag (MQTT-3.1.2-18)
    [InlineData(PasswordFlag | UserNameFlag)]
    public void Trailing_bytes_after_the_payload_are_malformed(int flags)
    {
        var body = Header(flags).String("c");
        if ((flags & UserNameFlag) != 0)
        {
            body.String("u").Binary(1);
        }

        Assert.Throws<MqttProtocolException>(() => Decode(body.String("extra")));
    }

    [Theory]
    [InlineData(new byte[] { 0xC3, 0x28 })]              // broken two-byte sequence
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]        // U+D800, a surrogate code point
    [InlineData(new byte[] { 0xC0, 0xAF })]              // overlong '/'
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })]  // above U+10FFFF
    [InlineData(new byte[] { 0x61, 0xFF })]
    public void MQTT_1_5_3_1_ill_formed_UTF_8_closes_the_connection(byte[] clientId) =>
        Assert.Equal("MQTT-1.5.3-1", Violation(Header(CleanSession).Binary(clientId)));

    [Fact]
    public void MQTT_1_5_3_1_ill_formed_UTF_8_in_the_user_name_too() =>
        Assert.Equal("MQTT-1.5.3-1", Violation(Header(UserNameFlag).String("c").Binary(0xED, 0xBF, 0xBF)));

    [Theory]
    [InlineData("a\0b")]
    [InlineData("\0")]
    public void MQTT_1_5_3_2_U0000_in_a_string_closes_the_connection(string clientId) =>
        Assert.Equal("MQTT-1.5.3-2", Violation(Header(CleanSession).String(clientId)));

    [Fact]
    public void MQTT_1_5_3_a_string_may_hold_any_well_formed_character()
    {
        // U+FEFF is a character, not a BOM to strip (MQTT-1.5.3-3); non-BMP characters are fine.
        const string id = "\uFEFFcapteur-é-😀";
        Assert.Equal(id, Decode(Header(CleanSession).Binary(Encoding.UTF8.GetBytes(id))).ClientId);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(10)]
    [InlineData(11)]
    public void A_truncated_CONNECT_is_malformed(int length)
    {
        var full = Header(CleanSession).String("client").ToArray();
        Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeConnect(full.AsSpan(0, length)));
    }

    [Fact]
    public void A_string_length_running_past_the_packet_is_malformed() =>
        Assert.Throws<MqttProtocolException>(() => Decode(Header(CleanSession).UInt16(50).Bytes(0x61, 0x62)));
}
