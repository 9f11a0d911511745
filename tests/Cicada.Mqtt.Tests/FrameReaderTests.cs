using System.Buffers;
using Cicada.Mqtt.Protocol;

namespace Cicada.Mqtt.Tests;

/// <summary>Fixed header and remaining length framing (MQTT 3.1.1 §2.2), and fixed-header flags (MQTT-2.2.2).</summary>
public class FrameReaderTests
{
    private static FrameStatus Read(byte[] data, int max, out MqttFrame frame, out int size)
    {
        var buffer = new ReadOnlySequence<byte>(data);
        return MqttFrameReader.TryRead(ref buffer, max, out frame, out size);
    }

    // The table of §2.2.3: smallest and largest value for each encoded length.
    public static TheoryData<int, byte[]> RemainingLengthBoundaries => new()
    {
        { 0, [0x00] },
        { 127, [0x7F] },
        { 128, [0x80, 0x01] },
        { 16_383, [0xFF, 0x7F] },
        { 16_384, [0x80, 0x80, 0x01] },
        { 2_097_151, [0xFF, 0xFF, 0x7F] },
        { 2_097_152, [0x80, 0x80, 0x80, 0x01] },
        { 268_435_455, [0xFF, 0xFF, 0xFF, 0x7F] },
    };

    [Theory]
    [MemberData(nameof(RemainingLengthBoundaries))]
    public void Section_2_2_3_remaining_length_boundary_values_decode(int value, byte[] encoded)
    {
        byte[] header = [0x30, .. encoded];
        var total = header.Length + value;

        // Decoded value, without buffering the body: one byte over the limit is refused, at the
        // limit the reader waits for the body.
        Assert.Equal(FrameStatus.TooLarge, Read(header, total - 1, out _, out _));
        if (value > 0)
        {
            Assert.Equal(FrameStatus.NeedMoreData, Read(header, total, out _, out _));
        }

        if (value <= 2_097_152)
        {
            var packet = new byte[total];
            header.CopyTo(packet, 0);
            new Random(value).NextBytes(packet.AsSpan(header.Length));
            var buffer = new ReadOnlySequence<byte>(packet);

            Assert.Equal(FrameStatus.Done, MqttFrameReader.TryRead(ref buffer, total, out var frame, out var size));
            Assert.Equal(total, size);
            Assert.Equal(value, frame.Body.Length);
            Assert.True(frame.Body.ToArray().AsSpan().SequenceEqual(packet.AsSpan(header.Length)));
            Assert.True(buffer.IsEmpty);
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })]
    [InlineData(new byte[] { 0x30, 0x80, 0x80, 0x80, 0x80, 0x00 })]
    [InlineData(new byte[] { 0x30, 0x80, 0x80, 0x80, 0x80 })] // the fourth byte already says "more"
    public void Section_2_2_3_a_fifth_remaining_length_byte_is_malformed(byte[] data) =>
        Assert.Equal(FrameStatus.Malformed, Read(data, int.MaxValue, out _, out _));

    [Theory]
    [InlineData(new byte[] { 0xC0, 0x80, 0x00 })] // 0 in two bytes
    [InlineData(new byte[] { 0x30, 0x85, 0x00, 0x61 })] // 5 in two bytes
    [InlineData(new byte[] { 0x30, 0xFF, 0x80, 0x00 })] // 127 in three bytes
    [InlineData(new byte[] { 0x30, 0x80, 0x80, 0x80, 0x00 })] // 0 in four bytes
    public void MQTT_1_5_5_1_a_remaining_length_not_in_its_shortest_form_is_malformed(byte[] data) =>
        Assert.Equal(FrameStatus.Malformed, Read(data, int.MaxValue, out _, out _));

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0x30 })]
    [InlineData(new byte[] { 0x30, 0x80 })]
    [InlineData(new byte[] { 0x30, 0xFF, 0xFF, 0xFF })]
    [InlineData(new byte[] { 0x30, 0x05, 0x00, 0x01, 0x61, 0x62 })]
    [InlineData(new byte[] { 0x82, 0x80, 0x01, 0x00 })]
    public void Partial_input_needs_more_data_and_consumes_nothing(byte[] data)
    {
        var buffer = new ReadOnlySequence<byte>(data);
        var before = buffer;

        Assert.Equal(FrameStatus.NeedMoreData, MqttFrameReader.TryRead(ref buffer, int.MaxValue, out _, out _));
        Assert.Equal(before.Length, buffer.Length);
        Assert.Equal(before.Start, buffer.Start);
    }

    [Fact]
    public void A_packet_with_no_body_is_complete_after_two_bytes()
    {
        Assert.Equal(FrameStatus.Done, Read([0xC0, 0x00], 2, out var frame, out var size));
        Assert.Equal(MqttPacketType.PingReq, frame.Type);
        Assert.Equal(2, size);
        Assert.True(frame.Body.IsEmpty);
    }

    [Fact]
    public void MQTT_4_8_0_1_an_oversized_packet_is_refused_before_its_body_arrives()
    {
        // Remaining length 1000 announced, nothing of the body sent yet.
        Assert.Equal(FrameStatus.TooLarge, Read([0x30, 0xE8, 0x07], 100, out _, out var size));
        Assert.Equal(1003, size);

        // The limit counts the whole packet, fixed header included.
        var atLimit = new PacketBuilder().Bytes(new byte[98]).Packet(0x30);
        Assert.Equal(100, atLimit.Length);
        Assert.Equal(FrameStatus.Done, Read(atLimit, 100, out _, out _));
        Assert.Equal(FrameStatus.TooLarge, Read(atLimit, 99, out _, out _));
    }

    private static byte[][] SamplePackets() =>
    [
        [0xC0, 0x00],
        new PacketBuilder().String("a/b").Bytes(Enumerable.Range(0, 200).Select(i => (byte)i).ToArray()).Packet(0x30),
        new PacketBuilder().UInt16(10).String("x/#").Bytes(1).Packet(0x82),
        [0xE0, 0x00],
        new PacketBuilder().UInt16(7).Packet(0x40),
    ];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(64)]
    public void Frames_split_over_many_segments_read_the_same_as_contiguous_ones(int segmentSize)
    {
        var packets = SamplePackets();
        var buffer = Chunk.Split([.. packets.SelectMany(p => p)], segmentSize);
        Assert.Equal(segmentSize >= buffer.Length, buffer.IsSingleSegment);

        foreach (var packet in packets)
        {
            Assert.Equal(FrameStatus.Done, MqttFrameReader.TryRead(ref buffer, int.MaxValue, out var frame, out var size));
            Assert.Equal(packet.Length, size);
            Assert.Equal(packet[0], frame.Header);
            Assert.Equal(packet.AsSpan(packet.Length - (int)frame.Body.Length).ToArray(), frame.Body.ToArray());
        }

        Assert.True(buffer.IsEmpty);
        Assert.Equal(FrameStatus.NeedMoreData, MqttFrameReader.TryRead(ref buffer, int.MaxValue, out _, out _));
    }

    [Fact]
    public void Frames_are_found_exactly_when_each_has_fully_arrived()
    {
        // The reader is resumable: for every prefix of the stream, in 3-byte segments, it returns
        // the packets wholly inside it and then asks for more, never a partial or wrong one.
        var packets = SamplePackets();
        var stream = packets.SelectMany(p => p).ToArray();
        var ends = packets.Select((p, i) => packets.Take(i + 1).Sum(q => q.Length)).ToArray();

        for (var k = 0; k <= stream.Length; k++)
        {
            var buffer = Chunk.Split(stream[..k], 3);
            var read = 0;
            FrameStatus status;
            while ((status = MqttFrameReader.TryRead(ref buffer, int.MaxValue, out var frame, out _)) == FrameStatus.Done)
            {
                Assert.Equal(packets[read][0], frame.Header);
                read++;
            }

            Assert.Equal(FrameStatus.NeedMoreData, status);
            Assert.Equal(ends.Count(e => e <= k), read);
            Assert.Equal(k - (read == 0 ? 0 : ends[read - 1]), buffer.Length);
        }
    }

    [Fact]
    public void Type_and_flags_come_from_the_first_header_byte()
    {
        var frame = new MqttFrame(0x3D, ReadOnlySequence<byte>.Empty);
        Assert.Equal(MqttPacketType.Publish, frame.Type);
        Assert.Equal(0x0D, frame.Flags);
    }

    [Fact]
    public void MQTT_2_2_2_2_reserved_flags_must_be_0000_except_for_PUBREL_SUBSCRIBE_UNSUBSCRIBE()
    {
        for (var type = 1; type <= 14; type++)
        {
            var expected = type switch
            {
                (int)MqttPacketType.Publish => -1, // flags carry DUP/QoS/RETAIN
                (int)MqttPacketType.PubRel or (int)MqttPacketType.Subscribe or (int)MqttPacketType.Unsubscribe => 0b0010,
                _ => 0,
            };

            for (var flags = 0; flags < 16; flags++)
            {
                var frame = new MqttFrame((byte)(type << 4 | flags), ReadOnlySequence<byte>.Empty);
                if (expected < 0 || flags == expected)
                {
                    MqttDecoder.CheckFlags(frame);
                }
                else
                {
                    var ex = Assert.Throws<MqttProtocolException>(() => MqttDecoder.CheckFlags(frame));
                    Assert.Equal(((MqttPacketType)type) switch
                    {
                        MqttPacketType.PubRel => "MQTT-3.6.1-1",
                        MqttPacketType.Subscribe => "MQTT-3.8.1-1",
                        MqttPacketType.Unsubscribe => "MQTT-3.10.1-1",
                        _ => "MQTT-2.2.2-2",
                    }, ex.Rule);
                }
            }
        }
    }

    [Theory]
    [InlineData(0x60, "MQTT-3.6.1-1")]
    [InlineData(0x80, "MQTT-3.8.1-1")]
    [InlineData(0x86, "MQTT-3.8.1-1")]
    [InlineData(0xA0, "MQTT-3.10.1-1")]
    [InlineData(0x63, "MQTT-3.6.1-1")]
    [InlineData(0x41, "MQTT-2.2.2-2")]
    [InlineData(0xE2, "MQTT-2.2.2-2")]
    public void MQTT_3_6_1_1_and_3_8_1_1_and_3_10_1_1_wrong_flags_are_malformed(byte header, string rule)
    {
        var ex = Assert.Throws<MqttProtocolException>(() => MqttDecoder.CheckFlags(new MqttFrame(header, ReadOnlySequence<byte>.Empty)));
        Assert.Equal(rule, ex.Rule);
    }
}
