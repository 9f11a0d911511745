using System.Buffers;
using System.Text;
using Cicada.Core;
using Cicada.Mqtt.Protocol;

namespace Cicada.Mqtt.Tests;

/// <summary>What the server writes (MQTT 3.1.1 §3.2, §3.3, §3.4-§3.7, §3.9, §3.11, §3.13), read back with our own decoders.</summary>
public class EncoderTests
{
    private static byte[] Write(Action<ArrayBufferWriter<byte>> write)
    {
        var writer = new ArrayBufferWriter<byte>();
        write(writer);
        return writer.WrittenSpan.ToArray();
    }

    private static MqttFrame Frame(byte[] bytes)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.Equal(FrameStatus.Done, MqttFrameReader.TryRead(ref buffer, int.MaxValue, out var frame, out var size));
        Assert.Equal(bytes.Length, size);
        Assert.True(buffer.IsEmpty);
        MqttDecoder.CheckFlags(frame);
        return frame;
    }

    [Theory]
    [InlineData(false, ConnectReturnCode.Accepted, new byte[] { 0x20, 0x02, 0x00, 0x00 })]
    [InlineData(true, ConnectReturnCode.Accepted, new byte[] { 0x20, 0x02, 0x01, 0x00 })]
    [InlineData(false, ConnectReturnCode.UnacceptableProtocolVersion, new byte[] { 0x20, 0x02, 0x00, 0x01 })]
    [InlineData(false, ConnectReturnCode.IdentifierRejected, new byte[] { 0x20, 0x02, 0x00, 0x02 })]
    [InlineData(false, ConnectReturnCode.ServerUnavailable, new byte[] { 0x20, 0x02, 0x00, 0x03 })]
    [InlineData(false, ConnectReturnCode.BadUsernameOrPassword, new byte[] { 0x20, 0x02, 0x00, 0x04 })]
    [InlineData(false, ConnectReturnCode.NotAuthorized, new byte[] { 0x20, 0x02, 0x00, 0x05 })]
    public void Section_3_2_CONNACK_carries_session_present_and_the_return_code(bool present, ConnectReturnCode code, byte[] expected)
    {
        var bytes = Write(w => MqttEncoder.WriteConnAck(w, present, code));

        Assert.Equal(expected, bytes);
        Assert.Equal(MqttPacketType.ConnAck, Frame(bytes).Type);
    }

    [Theory]
    [InlineData(MqttPacketType.PubAck, 0x40)]
    [InlineData(MqttPacketType.PubRec, 0x50)]
    [InlineData(MqttPacketType.PubRel, 0x62)]   // MQTT-3.6.1-1: flags 0010
    [InlineData(MqttPacketType.PubComp, 0x70)]
    [InlineData(MqttPacketType.UnsubAck, 0xB0)]
    public void Acknowledgements_round_trip_with_their_fixed_header(MqttPacketType type, byte header)
    {
        foreach (var id in new ushort[] { 1, 0x0102, 0xFFFF })
        {
            var bytes = Write(w => MqttEncoder.WriteAck(w, type, id));

            Assert.Equal([header, 0x02, (byte)(id >> 8), (byte)id], bytes);
            var frame = Frame(bytes); // CheckFlags accepts what we send (PUBREL 0010 included)
            Assert.Equal(type, frame.Type);
            Assert.Equal(id, MqttDecoder.DecodePacketId(frame.Body.ToArray()));
        }
    }

    [Fact]
    public void MQTT_3_8_4_5_SUBACK_has_one_return_code_per_filter_in_order()
    {
        byte[] codes = [0x00, 0x02, 0x80, 0x01];
        var bytes = Write(w => MqttEncoder.WriteSubAck(w, 0xBEEF, codes));

        Assert.Equal([0x90, 0x06, 0xBE, 0xEF, 0x00, 0x02, 0x80, 0x01], bytes);
        Assert.Equal(MqttPacketType.SubAck, Frame(bytes).Type);
    }

    [Fact]
    public void A_SUBACK_longer_than_127_bytes_uses_a_two_byte_remaining_length()
    {
        var codes = Enumerable.Range(0, 200).Select(i => (byte)(i % 3)).ToArray();
        var bytes = Write(w => MqttEncoder.WriteSubAck(w, 9, codes));

        Assert.Equal([0x90, 0xCA, 0x01], bytes[..3]); // 202 = 0x4A + 1 * 128
        Assert.Equal(codes, Frame(bytes).Body.ToArray()[2..]);
    }

    [Fact]
    public void Section_3_13_PINGRESP_is_two_bytes() =>
        Assert.Equal([0xD0, 0x00], Write(MqttEncoder.WritePingResp));

    [Theory]
    [InlineData(QoS.AtMostOnce, false)]
    [InlineData(QoS.AtMostOnce, true)]
    [InlineData(QoS.AtLeastOnce, false)]
    [InlineData(QoS.ExactlyOnce, true)]
    public void PUBLISH_round_trips_through_the_decoder(QoS qos, bool retain)
    {
        var message = new Message("maison/cuisine/température", Encoding.UTF8.GetBytes("21,5 °C"), QoS.ExactlyOnce, retain: false);
        var encoded = MqttEncoder.EncodePublish(message, qos, retain, dup: false);
        var bytes = Write(w => MqttEncoder.WritePublish(w, encoded, 0x0A0B));

        var frame = Frame(bytes);
        var decoded = MqttDecoder.DecodePublish(frame.Flags, frame.Body.ToArray());
        Assert.Equal(message.Topic, decoded.Topic);
        Assert.Equal(message.Payload.ToArray(), decoded.Payload);
        Assert.Equal(qos, decoded.Qos);
        Assert.Equal(retain, decoded.Retain);
        Assert.False(decoded.Dup);
        Assert.Equal(qos == QoS.AtMostOnce ? 0 : 0x0A0B, decoded.PacketId);
    }

    [Fact]
    public void MQTT_2_3_1_5_a_QoS_0_PUBLISH_has_no_packet_identifier_to_patch()
    {
        var message = new Message("t", new byte[] { 1, 2 }, QoS.AtMostOnce, retain: false);
        var encoded = MqttEncoder.EncodePublish(message, QoS.AtMostOnce, retain: false, dup: false);

        Assert.Equal(-1, encoded.IdOffset);
        Assert.Equal([0x30, 0x05, 0x00, 0x01, (byte)'t', 1, 2], encoded.Bytes);
        Assert.Equal(encoded.Bytes, Write(w => MqttEncoder.WritePublish(w, encoded, 0x1234))); // the id is ignored
    }

    [Theory]
    [InlineData(QoS.AtLeastOnce)]
    [InlineData(QoS.ExactlyOnce)]
    public void Encode_once_patch_the_packet_id_per_subscriber(QoS qos)
    {
        var message = new Message("a/b", new byte[] { 9, 9, 9 }, qos, retain: false);
        var encoded = MqttEncoder.EncodePublish(message, qos, retain: false, dup: true);
        var shared = encoded.Bytes.ToArray();

        var first = Write(w => MqttEncoder.WritePublish(w, encoded, 1));
        var second = Write(w => MqttEncoder.WritePublish(w, encoded, 0xFFFE));

        // Header, length, topic "a/b", then the id: bytes 7 and 8.
        Assert.Equal(7, encoded.IdOffset);
        Assert.Equal((byte)(0x30 | 0x08 | (int)qos << 1), first[0]);
        Assert.Equal([0x00, 0x01], first[7..9]);
        Assert.Equal([0xFF, 0xFE], second[7..9]);
        Assert.Equal(first[9..], second[9..]);
        Assert.Equal(shared, encoded.Bytes); // the shared encoding itself is never written to

        var frame = Frame(second);
        var decoded = MqttDecoder.DecodePublish(frame.Flags, frame.Body.ToArray());
        Assert.True(decoded.Dup);
        Assert.Equal(0xFFFE, decoded.PacketId);
    }

    [Theory]
    [InlineData(0, new byte[] { 0x00 })]
    [InlineData(127, new byte[] { 0x7F })]
    [InlineData(128, new byte[] { 0x80, 0x01 })]
    [InlineData(16_383, new byte[] { 0xFF, 0x7F })]
    [InlineData(16_384, new byte[] { 0x80, 0x80, 0x01 })]
    [InlineData(2_097_151, new byte[] { 0xFF, 0xFF, 0x7F })]
    [InlineData(2_097_152, new byte[] { 0x80, 0x80, 0x80, 0x01 })]
    [InlineData(268_435_455, new byte[] { 0xFF, 0xFF, 0xFF, 0x7F })]
    public void Section_2_2_3_remaining_length_encodes_the_boundary_values(int value, byte[] expected)
    {
        var span = new byte[4];
        var written = MqttEncoder.WriteRemainingLength(span, value);

        Assert.Equal(expected, span[..written]);
        Assert.Equal(expected.Length, MqttEncoder.RemainingLengthSize(value));
    }

    [Theory]
    [InlineData(122)]   // remaining length 127
    [InlineData(123)]   // 128
    [InlineData(16_378)]
    [InlineData(16_379)]
    [InlineData(2_097_146)]
    [InlineData(2_097_147)]
    public void PUBLISH_sizes_around_the_boundaries_frame_exactly(int payloadLength)
    {
        // Topic "t" (3 bytes) + packet id (2): remaining length = payload + 5.
        var payload = new byte[payloadLength];
        new Random(payloadLength).NextBytes(payload);
        var encoded = MqttEncoder.EncodePublish(new Message("t", payload, QoS.AtLeastOnce, false), QoS.AtLeastOnce, false, false);
        var bytes = Write(w => MqttEncoder.WritePublish(w, encoded, 3));

        Assert.Equal(1 + MqttEncoder.RemainingLengthSize(payloadLength + 5) + payloadLength + 5, bytes.Length);
        var frame = Frame(bytes);
        Assert.Equal(payloadLength + 5, frame.Body.Length);
        Assert.Equal(payload, MqttDecoder.DecodePublish(frame.Flags, frame.Body.ToArray()).Payload);
    }
}
