using Cicada.Bench.Mqtt;

namespace Cicada.Bench.Tests;

public class PacketEncodingTests
{
    [Theory]
    // MQTT 3.1.1 §2.2.3, table 2.4: the boundaries of the remaining-length encoding.
    [InlineData(0, new byte[] { 0x00 })]
    [InlineData(127, new byte[] { 0x7F })]
    [InlineData(128, new byte[] { 0x80, 0x01 })]
    [InlineData(16_383, new byte[] { 0xFF, 0x7F })]
    [InlineData(16_384, new byte[] { 0x80, 0x80, 0x01 })]
    [InlineData(2_097_151, new byte[] { 0xFF, 0xFF, 0x7F })]
    [InlineData(2_097_152, new byte[] { 0x80, 0x80, 0x80, 0x01 })]
    [InlineData(268_435_455, new byte[] { 0xFF, 0xFF, 0xFF, 0x7F })]
    public void MQTT_2_2_3_remaining_length_uses_7_bits_per_byte(int value, byte[] expected)
    {
        var buffer = new byte[4];
        var written = Packets.WriteVarInt(buffer, value);
        Assert.Equal(expected, buffer[..written]);
        Assert.Equal(expected.Length, Packets.VarIntSize(value));
    }

    [Fact]
    public void MQTT_3_1_CONNECT_is_protocol_level_4_with_clean_session_and_keep_alive()
    {
        var id = "ab"u8.ToArray();
        var packet = new byte[Packets.ConnectSize(id)];
        Packets.WriteConnect(packet, id, 60);
        byte[] expected = [0x10, 14, 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0x02, 0, 60, 0, 2, (byte)'a', (byte)'b'];
        Assert.Equal(expected, packet);
    }

    [Fact]
    public void MQTT_3_1_2_4_a_persistent_session_CONNECT_clears_the_clean_session_flag()
    {
        var id = "ab"u8.ToArray();
        var packet = new byte[Packets.ConnectSize(id)];
        Packets.WriteConnect(packet, id, 60, cleanSession: false);
        Assert.Equal(0x00, packet[9]);
    }

    [Fact]
    public void MQTT_3_8_1_SUBSCRIBE_has_reserved_flags_0010_and_requested_qos()
    {
        var filter = "a/+"u8.ToArray();
        var packet = new byte[Packets.SubscribeSize(filter)];
        Packets.WriteSubscribe(packet, 7, filter, 2);
        byte[] expected = [0x82, 8, 0, 7, 0, 3, (byte)'a', (byte)'/', (byte)'+', 2];
        Assert.Equal(expected, packet);
    }

    [Theory]
    [InlineData(0, new byte[] { 0x30, 5, 0, 1, (byte)'t', 0xAA, 0xBB })]
    [InlineData(1, new byte[] { 0x32, 7, 0, 1, (byte)'t', 0x12, 0x34, 0xAA, 0xBB })]
    [InlineData(2, new byte[] { 0x34, 7, 0, 1, (byte)'t', 0x12, 0x34, 0xAA, 0xBB })]
    public void MQTT_3_3_PUBLISH_carries_a_packet_id_only_at_QoS_1_and_2(int qos, byte[] expected)
    {
        var topic = "t"u8.ToArray();
        var packet = new byte[Packets.PublishSize(topic.Length, qos, 2)];
        var at = Packets.WritePublishHeader(packet, topic, qos, 0x1234, 2);
        packet[at] = 0xAA;
        packet[at + 1] = 0xBB;
        Assert.Equal(expected.Length, packet.Length);
        Assert.Equal(expected, packet);
    }

    [Fact]
    public void MQTT_3_6_1_PUBREL_has_reserved_flags_0010()
    {
        var packet = new byte[4];
        Packets.WriteAck(packet, Packets.PubRel, 0x0102);
        Assert.Equal(new byte[] { 0x62, 2, 1, 2 }, packet);
    }
}
