using System.Buffers;
using System.Text;
using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Mqtt.Tests;

/// <summary>AUTH (MQTT 5 §3.15): what a client's AUTH decodes to, what is refused, and the server's AUTH on the wire.</summary>
public class V5AuthCodecTests
{
    private static byte[] Body(byte reason, V5Props props) => [reason, .. props.Block()];

    [Theory]
    [InlineData(0x18)]
    [InlineData(0x19)]
    [InlineData(0x00)]
    public void MQTT_3_15_2_1_an_AUTH_with_an_Authenticate_Reason_Code_decodes_with_its_method_and_data(byte reason)
    {
        var auth = AuthPacket.Decode(Body(reason, new V5Props().String(0x15, "SCRAM-SHA-256").Binary(0x16, [1, 2, 3])));

        Assert.Equal((ReasonCode)reason, auth.Reason);
        Assert.Equal("SCRAM-SHA-256", auth.Method);
        Assert.Equal([1, 2, 3], auth.Data);
    }

    [Fact]
    public void Section_3_15_2_2_an_AUTH_may_carry_a_reason_string_and_user_properties_besides_the_method()
    {
        var auth = AuthPacket.Decode(Body(0x18, new V5Props().String(0x15, "M").String(0x1F, "why").User("k", "v")));

        Assert.Equal("M", auth.Method);
        Assert.Null(auth.Data);
    }

    [Theory]
    [InlineData(0x01)]
    [InlineData(0x04)]
    [InlineData(0x87)]
    public void MQTT_3_15_2_1_any_other_reason_code_is_a_protocol_error(byte reason)
    {
        var ex = Assert.Throws<MqttProtocolException>(() => AuthPacket.Decode(Body(reason, new V5Props().String(0x15, "M"))));

        Assert.Equal("MQTT-3.15.2-1", ex.Rule);
        Assert.Equal(0x82, ex.ReasonCode);
    }

    [Fact]
    public void Section_3_15_2_2_2_an_AUTH_without_an_Authentication_Method_is_a_protocol_error()
    {
        Assert.Equal(0x82, Assert.Throws<MqttProtocolException>(() => AuthPacket.Decode(Body(0x18, new V5Props().Binary(0x16, [1])))).ReasonCode);

        // Remaining Length 0 means 0x00 Success without properties (§3.15.2.1): no method either.
        Assert.Equal(0x82, Assert.Throws<MqttProtocolException>(() => AuthPacket.Decode([])).ReasonCode);
    }

    [Fact]
    public void Section_3_15_2_2_2_the_Authentication_Method_twice_is_a_protocol_error()
    {
        Assert.Throws<MqttProtocolException>(() => AuthPacket.Decode(Body(0x18, new V5Props().String(0x15, "M").String(0x15, "M"))));
    }

    [Fact]
    public void MQTT_2_2_2_2_a_property_not_allowed_in_AUTH_is_refused()
    {
        // Session Expiry Interval (0x11) belongs to CONNECT, CONNACK and DISCONNECT only.
        Assert.Throws<MqttProtocolException>(() => AuthPacket.Decode(Body(0x18, new V5Props().String(0x15, "M").UInt32(0x11, 5))));
    }

    [Fact]
    public void MQTT_4_12_0_2_a_server_AUTH_0x18_carries_the_method_and_the_data()
    {
        var props = new PropertyCodec.Builder().String(PropertyId.AuthenticationMethod, "SCRAM-SHA-256")
            .Binary(PropertyId.AuthenticationData, Encoding.UTF8.GetBytes("r=abc"));
        var writer = new ArrayBufferWriter<byte>();
        MqttV5Encoder.WriteAuth(writer, ReasonCode.ContinueAuthentication, props);
        var bytes = writer.WrittenSpan.ToArray();

        var sequence = new ReadOnlySequence<byte>(bytes);
        Assert.Equal(FrameStatus.Done, MqttFrameReader.TryRead(ref sequence, int.MaxValue, out var frame, out _));
        Assert.Equal(MqttPacketType.Auth, frame.Type);
        Assert.Equal(0, frame.Flags); // MQTT-3.15.1-1
        var body = frame.Body.ToArray();
        Assert.Equal(0x18, body[0]);
        var position = 1;
        var read = V5Read.Properties(body, ref position);
        Assert.Equal(body.Length, position);
        Assert.Equal("SCRAM-SHA-256", read.Get<string>(0x15));
        Assert.Equal("r=abc"u8.ToArray(), read.Get<byte[]>(0x16));
    }

    [Fact]
    public void Section_3_15_2_1_a_Success_AUTH_without_properties_has_remaining_length_0()
    {
        var writer = new ArrayBufferWriter<byte>();
        MqttV5Encoder.WriteAuth(writer, ReasonCode.Success, null);

        Assert.Equal([0xF0, 0x00], writer.WrittenSpan.ToArray());
    }
}
