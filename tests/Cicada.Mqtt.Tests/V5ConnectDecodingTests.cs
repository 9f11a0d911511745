using Cicada.Core;
using Cicada.Mqtt.Protocol;

namespace Cicada.Mqtt.Tests;

/// <summary>MQTT 5 CONNECT (§3.1): properties (§3.1.2.11), will properties (§3.1.3.2), and their rejection.</summary>
public class V5ConnectDecodingTests
{
    private const byte CleanStart = 0x02;
    private const byte WillFlag = 0x04;
    private const byte WillRetain = 0x20;
    private const byte PasswordFlag = 0x40;
    private const byte UserNameFlag = 0x80;

    private static PacketBuilder Header(int flags, int keepAlive = 30) =>
        new PacketBuilder().String("MQTT").Bytes(5, (byte)flags).UInt16(keepAlive);

    private static ConnectPacket Decode(PacketBuilder body) => MqttDecoder.DecodeConnect(body.ToArray());

    private static MqttProtocolException Refused(PacketBuilder body) =>
        Assert.Throws<MqttProtocolException>(() => MqttDecoder.DecodeConnect(body.ToArray()));

    [Fact]
    public void Section_3_1_2_11_every_CONNECT_property_and_every_will_property_decodes()
    {
        var props = new V5Props()
            .UInt32(0x11, 3600)              // Session Expiry Interval
            .UInt16(0x21, 20)                // Receive Maximum
            .UInt32(0x27, 4096)              // Maximum Packet Size
            .UInt16(0x22, 10)                // Topic Alias Maximum
            .Byte(0x19, 1)                   // Request Response Information
            .Byte(0x17, 0)                   // Request Problem Information
            .User("region", "eu")
            .User("region", "us")            // user properties may repeat, in order (§3.1.2.11.8)
            .String(0x15, "SCRAM-SHA-256")   // Authentication Method
            .Binary(0x16, [9, 8, 7]);        // Authentication Data
        var will = new V5Props()
            .UInt32(0x18, 30)                // Will Delay Interval
            .Byte(0x01, 1)                   // Payload Format Indicator
            .UInt32(0x02, 120)               // Message Expiry Interval
            .String(0x03, "text/plain")      // Content Type
            .String(0x08, "replies/here")    // Response Topic
            .Binary(0x09, [1, 2])            // Correlation Data
            .User("why", "lost");

        var packet = Decode(Header(CleanStart | WillFlag | (1 << 3) | WillRetain | UserNameFlag | PasswordFlag)
            .Props(props).String("dev-1").Props(will).String("status/dev-1").Binary(0x6F, 0x66, 0x66).String("u").Binary(1, 2));

        Assert.Equal(MqttProtocolLevel.V5, packet.ProtocolLevel);
        Assert.True(packet.CleanSession);
        Assert.Equal(30, packet.KeepAliveSeconds);
        Assert.Equal("dev-1", packet.ClientId);
        var p = packet.Properties!;
        Assert.Equal(3600u, p.SessionExpiryInterval);
        Assert.Equal((ushort)20, p.ReceiveMaximum);
        Assert.Equal(4096u, p.MaximumPacketSize);
        Assert.Equal((ushort)10, p.TopicAliasMaximum);
        Assert.Equal((byte)1, p.RequestResponseInformation);
        Assert.Equal((byte)0, p.RequestProblemInformation);
        Assert.Equal([new("region", "eu"), new("region", "us")], p.UserProperties!);
        Assert.Equal("SCRAM-SHA-256", p.AuthenticationMethod);
        Assert.Equal([9, 8, 7], p.AuthenticationData);

        var w = packet.WillProperties!;
        Assert.Equal(30u, w.WillDelayInterval);
        Assert.Equal((byte)1, w.PayloadFormatIndicator);
        Assert.Equal(120u, w.MessageExpiryInterval);
        Assert.Equal("text/plain", w.ContentType);
        Assert.Equal("replies/here", w.ResponseTopic);
        Assert.Equal([1, 2], w.CorrelationData);
        Assert.Equal([new("why", "lost")], w.UserProperties!);
        Assert.Equal("status/dev-1", packet.WillTopic);
        Assert.Equal("off"u8.ToArray(), packet.WillPayload);
        Assert.Equal(QoS.AtLeastOnce, packet.WillQos);
        Assert.True(packet.WillRetain);
        Assert.Equal("u", packet.Username);
        Assert.Equal([1, 2], packet.Password);
    }

    [Fact]
    public void Section_3_1_2_11_an_empty_property_block_means_no_properties()
    {
        var packet = Decode(Header(CleanStart).NoProps().String("c"));

        Assert.Null(packet.Properties);
        Assert.Null(packet.WillProperties);
        Assert.Equal("c", packet.ClientId);
    }

    [Fact]
    public void Section_3_1_2_9_MQTT_5_allows_a_password_without_a_user_name()
    {
        var packet = Decode(Header(CleanStart | PasswordFlag).NoProps().String("c").Binary(0x70, 0x77));

        Assert.Null(packet.Username);
        Assert.Equal("pw"u8.ToArray(), packet.Password);
    }

    [Fact]
    public void Section_3_1_3_1_an_empty_client_id_decodes_for_the_server_to_assign_one() =>
        Assert.Equal("", Decode(Header(0).NoProps().String("")).ClientId);

    [Theory]
    [InlineData(0x11, 4)] // Session Expiry Interval
    [InlineData(0x21, 2)] // Receive Maximum
    [InlineData(0x27, 4)] // Maximum Packet Size
    [InlineData(0x22, 2)] // Topic Alias Maximum
    [InlineData(0x19, 1)] // Request Response Information
    [InlineData(0x17, 1)] // Request Problem Information
    [InlineData(0x15, 2)] // Authentication Method (empty string)
    [InlineData(0x16, 2)] // Authentication Data (empty)
    public void MQTT_2_2_2_2_a_CONNECT_property_given_twice_is_a_protocol_error(byte id, int size)
    {
        // A value of 1 in the last byte keeps Receive Maximum / Maximum Packet Size legal, so only the repetition is wrong.
        var value = new byte[size];
        if (id is 0x21 or 0x27)
        {
            value[^1] = 1;
        }

        var props = new V5Props().Raw([id, .. value]).Raw([id, .. value]);

        Assert.Equal(0x82, Refused(Header(CleanStart).Props(props).String("c")).ReasonCode);
    }

    [Theory]
    [InlineData(0x01, 1)] // Payload Format Indicator: will/PUBLISH only
    [InlineData(0x02, 4)] // Message Expiry Interval: will/PUBLISH only
    [InlineData(0x18, 4)] // Will Delay Interval: will properties only
    [InlineData(0x23, 2)] // Topic Alias: PUBLISH only
    [InlineData(0x0B, 1)] // Subscription Identifier: PUBLISH/SUBSCRIBE only
    [InlineData(0x1F, 2)] // Reason String: never from a CONNECT
    [InlineData(0x12, 2)] // Assigned Client Identifier: CONNACK only
    [InlineData(0x24, 1)] // Maximum QoS: CONNACK only
    [InlineData(0x2A, 1)] // Shared Subscription Available: CONNACK only
    [InlineData(0x1C, 2)] // Server Reference: CONNACK/DISCONNECT only
    public void Section_2_2_2_2_a_property_not_valid_in_CONNECT_makes_it_malformed(byte id, int size)
    {
        var value = new byte[size];
        value[^1] = 1;

        Assert.Equal(0x81, Refused(Header(CleanStart).Props(new V5Props().Raw([id, .. value])).String("c")).ReasonCode);
    }

    [Theory]
    [InlineData(0x11)] // Session Expiry Interval is a CONNECT property, not a will property
    [InlineData(0x21)] // Receive Maximum
    [InlineData(0x23)] // Topic Alias
    [InlineData(0x0B)] // Subscription Identifier
    public void Section_3_1_3_2_a_property_not_valid_in_the_will_makes_CONNECT_malformed(byte id)
    {
        var will = new V5Props().Raw(id, 0, 0, 0, 1);

        var ex = Refused(Header(CleanStart | WillFlag).NoProps().String("c").Props(will).String("w").Binary());

        Assert.Equal(0x81, ex.ReasonCode);
    }

    [Theory]
    [InlineData(0x18, new byte[] { 0, 0, 0, 1 })] // Will Delay Interval
    [InlineData(0x01, new byte[] { 1 })]          // Payload Format Indicator
    [InlineData(0x02, new byte[] { 0, 0, 0, 1 })] // Message Expiry Interval
    [InlineData(0x03, new byte[] { 0, 0 })]       // Content Type
    [InlineData(0x08, new byte[] { 0, 1, 0x74 })] // Response Topic
    [InlineData(0x09, new byte[] { 0, 0 })]       // Correlation Data
    public void MQTT_2_2_2_2_a_will_property_given_twice_is_a_protocol_error(byte id, byte[] value)
    {
        var will = new V5Props().Raw([id, .. value]).Raw([id, .. value]);

        Assert.Equal(0x82, Refused(Header(CleanStart | WillFlag).NoProps().String("c").Props(will).String("w").Binary()).ReasonCode);
    }

    [Theory]
    [InlineData(0x21, new byte[] { 0, 0 })]       // §3.1.2.11.3 Receive Maximum 0
    [InlineData(0x27, new byte[] { 0, 0, 0, 0 })] // §3.1.2.11.4 Maximum Packet Size 0
    [InlineData(0x17, new byte[] { 2 })]          // §3.1.2.11.7 Request Problem Information not 0/1
    [InlineData(0x19, new byte[] { 2 })]          // §3.1.2.11.6 Request Response Information not 0/1
    public void Section_3_1_2_11_an_out_of_range_CONNECT_property_value_is_a_protocol_error(byte id, byte[] value) =>
        Assert.Equal(0x82, Refused(Header(CleanStart).Props(new V5Props().Raw([id, .. value])).String("c")).ReasonCode);

    [Fact]
    public void Section_3_1_3_2_a_will_payload_format_indicator_other_than_0_or_1_is_a_protocol_error()
    {
        var will = new V5Props().Byte(0x01, 7);

        Assert.Equal(0x82, Refused(Header(CleanStart | WillFlag).NoProps().String("c").Props(will).String("w").Binary()).ReasonCode);
    }

    [Theory]
    [InlineData(new byte[] { 0x05 })]             // unassigned identifier
    [InlineData(new byte[] { 0x7F, 0x00 })]       // unassigned identifier
    [InlineData(new byte[] { 0x11, 0x00, 0x00 })] // Session Expiry cut short
    [InlineData(new byte[] { 0x26, 0x00, 0x01, 0x61 })] // user property without its value
    public void Section_2_2_2_a_broken_property_makes_CONNECT_malformed(byte[] property) =>
        Assert.Equal(0x81, Refused(Header(CleanStart).Props(new V5Props().Raw(property)).String("c")).ReasonCode);

    [Fact]
    public void Section_2_2_2_1_a_property_length_running_past_the_packet_is_malformed() =>
        Assert.Equal(0x81, Refused(Header(CleanStart).Bytes(0x20, 0x11, 0, 0, 0, 1)).ReasonCode);

    [Fact]
    public void MQTT_1_5_4_1_a_user_property_that_is_not_UTF_8_is_malformed()
    {
        var props = new V5Props().Raw(0x26, 0x00, 0x02, 0xC3, 0x28, 0x00, 0x00);

        Assert.Equal("MQTT-1.5.3-1", Refused(Header(CleanStart).Props(props).String("c")).Rule);
    }

    [Fact]
    public void MQTT_3_1_2_3_the_reserved_flag_makes_a_v5_CONNECT_malformed() =>
        Assert.Equal(0x81, Refused(Header(CleanStart | 0x01).NoProps().String("c")).ReasonCode);

    [Fact]
    public void MQTT_3_1_2_12_will_QoS_3_is_malformed() =>
        Assert.Equal(0x81, Refused(Header(CleanStart | WillFlag | (3 << 3)).NoProps().String("c").NoProps().String("w").Binary()).ReasonCode);

    [Fact]
    public void MQTT_3_1_2_13_will_retain_without_the_will_flag_is_refused() =>
        Assert.Equal("MQTT-3.1.2-11", Refused(Header(CleanStart | WillRetain).NoProps().String("c")).Rule);

    [Fact]
    public void MQTT_3_1_3_10_a_will_topic_with_wildcards_is_refused() =>
        Refused(Header(CleanStart | WillFlag).NoProps().String("c").NoProps().String("a/+").Binary());

    [Fact]
    public void Bytes_after_the_last_CONNECT_field_are_malformed() =>
        Assert.Equal(0x81, Refused(Header(CleanStart).NoProps().String("c").Bytes(0)).ReasonCode);

    [Fact]
    public void A_v5_CONNECT_without_its_property_block_is_malformed()
    {
        // The client id's length prefix 0x00 0x01 would be read as an empty block and an id of length 0x01xx.
        var ex = Refused(Header(CleanStart).String("c"));

        Assert.Equal(0x81, ex.ReasonCode);
    }
}
