using System.Buffers;
using Cicada.Amqp.Protocol;

namespace Cicada.Amqp.Tests;

/// <summary>The frame codec against byte sequences written out from AMQP 0-9-1 §4.2 (general frame format and data types).</summary>
public sealed class FrameCodecTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));

    [Fact]
    public void Spec_4_2_2_ProtocolHeader_IsAMQP_0_0_9_1()
    {
        Assert.Equal(Hex("41 4D 51 50 00 00 09 01"), AmqpFrameReader.ProtocolHeader.ToArray());
    }

    [Fact]
    public void Spec_4_2_7_HeartbeatFrame_IsReadAsType8OnChannel0()
    {
        var buffer = new ReadOnlySequence<byte>(Hex("08 0000 00000000 CE"));

        var status = AmqpFrameReader.TryRead(ref buffer, 4096, out var frame, out _);

        Assert.Equal(FrameStatus.Done, status);
        Assert.Equal(FrameType.Heartbeat, frame.Type);
        Assert.Equal(0, frame.Channel);
        Assert.Equal(0, frame.Payload.Length);
        Assert.Equal(0, buffer.Length);
    }

    [Fact]
    public void Spec_4_2_3_MethodFrame_TuneOk_IsDecoded()
    {
        // connection.tune-ok (10, 31): channel-max 2047, frame-max 131072, heartbeat 60.
        var bytes = Hex("01 0000 0000000C 000A 001F 07FF 00020000 003C CE");
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.Equal(FrameStatus.Done, AmqpFrameReader.TryRead(ref buffer, 4096, out var frame, out var size));
        Assert.Equal(12u, size);
        var reader = new AmqpReader(frame.Payload.ToArray());
        Assert.Equal(Method.ConnectionTuneOk, (uint)reader.ReadShort() << 16 | reader.ReadShort());
        Assert.Equal(2047, reader.ReadShort());
        Assert.Equal(131072u, reader.ReadLong());
        Assert.Equal(60, reader.ReadShort());
        Assert.True(reader.End);
    }

    [Fact]
    public void Spec_4_2_3_FrameSplitAcrossSegments_NeedsMoreDataThenDecodes()
    {
        var bytes = Hex("01 0001 00000004 0014 000A CE"); // channel.open... truncated args, framing only
        var partial = new ReadOnlySequence<byte>(bytes[..9]);
        Assert.Equal(FrameStatus.NeedMoreData, AmqpFrameReader.TryRead(ref partial, 4096, out _, out _));

        var segmented = Segments(bytes[..3], bytes[3..10], bytes[10..]);
        Assert.Equal(FrameStatus.Done, AmqpFrameReader.TryRead(ref segmented, 4096, out var frame, out _));
        Assert.Equal(1, frame.Channel);
        Assert.Equal(Hex("0014 000A"), frame.Payload.ToArray());
    }

    [Fact]
    public void Spec_4_2_3_FrameOverFrameMax_IsRefusedFromItsHeaderAlone()
    {
        // Only the 7-octet header has arrived: the size (1 MiB) already exceeds frame-max 4096.
        var buffer = new ReadOnlySequence<byte>(Hex("03 0001 00100000"));

        Assert.Equal(FrameStatus.TooLarge, AmqpFrameReader.TryRead(ref buffer, 4096, out _, out var size));
        Assert.Equal(0x100000u, size);
    }

    [Fact]
    public void Spec_2_3_5_1_FrameWithoutFrameEnd_IsMalformed()
    {
        var buffer = new ReadOnlySequence<byte>(Hex("08 0000 00000000 00"));

        Assert.Equal(FrameStatus.BadFrameEnd, AmqpFrameReader.TryRead(ref buffer, 4096, out _, out _));
    }

    [Fact]
    public void Spec_4_2_5_2_ConsecutiveBits_ShareOneOctet_LowBitFirst()
    {
        var writer = new FrameWriter();
        writer.WriteBit(true);
        writer.WriteBit(false);
        writer.WriteBit(true);
        writer.WriteShort(7);
        writer.WriteBit(true);

        Assert.Equal(Hex("05 0007 01"), writer.Written.ToArray());
        var reader = new AmqpReader(writer.Written);
        Assert.True(reader.ReadBit());
        Assert.False(reader.ReadBit());
        Assert.True(reader.ReadBit());
        Assert.Equal(7, reader.ReadShort());
        Assert.True(reader.ReadBit());
    }

    [Fact]
    public void Spec_4_2_5_3_ShortAndLongStrings_AreLengthPrefixed()
    {
        var writer = new FrameWriter();
        writer.WriteShortString("amq.topic");
        writer.WriteLongString("en_US");

        Assert.Equal(Hex("09 616D712E746F706963 00000005 656E5F5553"), writer.Written.ToArray());
        var reader = new AmqpReader(writer.Written);
        Assert.Equal("amq.topic", reader.ReadShortString());
        Assert.Equal("en_US", reader.ReadLongString());
    }

    [Fact]
    public void Spec_4_2_5_5_FieldTable_EncodesRabbitMqValueTypes()
    {
        var writer = new FrameWriter();
        writer.WriteTable(new Dictionary<string, object?> { ["a"] = true, ["n"] = 5, ["s"] = "x" });

        // size 19: "a" 't' 1 | "n" 'I' 00000005 | "s" 'S' 00000001 "x"
        Assert.Equal(Hex("00000013 0161 74 01 016E 49 00000005 0173 53 00000001 78"), writer.Written.ToArray());
    }

    [Fact]
    public void Spec_4_2_5_5_FieldTable_RoundTripsEveryValueType()
    {
        var table = new Dictionary<string, object?>
        {
            ["bool"] = false,
            ["i8"] = (sbyte)-3,
            ["u8"] = (byte)200,
            ["i16"] = (short)-300,
            ["u16"] = (ushort)60000,
            ["i32"] = -70000,
            ["u32"] = 4000000000u,
            ["i64"] = -5L,
            ["f"] = 1.5f,
            ["d"] = 2.25,
            ["dec"] = 12.34m,
            ["str"] = "héllo",
            ["bytes"] = new byte[] { 1, 2 },
            ["ts"] = new AmqpTimestamp(1700000000),
            ["void"] = null,
            ["nested"] = new Dictionary<string, object?> { ["k"] = "v" },
            ["array"] = new List<object?> { 1, "two" },
        };
        var writer = new FrameWriter();
        writer.WriteTable(table);

        var read = new AmqpReader(writer.Written).ReadTable();

        Assert.Equal(table.Count, read.Count);
        foreach (var (key, value) in table)
        {
            switch (value)
            {
                case byte[] bytes:
                    Assert.Equal(bytes, (byte[])read[key]!);
                    break;
                case Dictionary<string, object?> nested:
                    Assert.Equal(nested, (Dictionary<string, object?>)read[key]!);
                    break;
                case List<object?> list:
                    Assert.Equal(list, (List<object?>)read[key]!);
                    break;
                default:
                    Assert.Equal(value, read[key]);
                    break;
            }
        }
    }

    [Fact]
    public void Spec_4_2_5_TruncatedField_IsASyntaxError()
    {
        var ex = Assert.Throws<AmqpException>(() => new AmqpReader(Hex("0A 6162")).ReadShortString());

        Assert.Equal(ReplyCode.SyntaxError, ex.Code);
        Assert.True(ex.IsConnectionError);
    }

    [Fact]
    public void Spec_4_2_6_1_ContentHeader_PropertyFlagsAndList()
    {
        // class 60, weight 0, body size 5, flags: content-type (bit 15) + delivery-mode (bit 12), "text/plain", 2.
        var payload = Hex("003C 0000 0000000000000005 9000 0A 746578742F706C61696E 02");

        var header = ContentHeader.Read(payload);

        Assert.Equal(ClassId.Basic, header.Class);
        Assert.Equal(5ul, header.BodySize);
        Assert.Equal("text/plain", header.Properties.ContentType);
        Assert.Equal((byte)2, header.Properties.DeliveryMode);
        Assert.True(header.Properties.Persistent);
        Assert.Null(header.Properties.Headers);
        Assert.Equal(payload[12..], header.RawProperties);
        Assert.Equal(payload[12..], header.Properties.Encode());
    }

    [Fact]
    public void Spec_4_2_6_1_AllFourteenBasicProperties_RoundTrip()
    {
        var p = new BasicProperties
        {
            ContentType = "application/json",
            ContentEncoding = "gzip",
            Headers = new() { ["h"] = 1 },
            DeliveryMode = 1,
            Priority = 9,
            CorrelationId = "c",
            ReplyTo = "r",
            Expiration = "60000",
            MessageId = "m",
            Timestamp = 1234,
            Type = "t",
            UserId = "u",
            AppId = "a",
            ClusterId = "x",
        };

        var encoded = p.Encode();
        Assert.Equal(0xFFFC, encoded[0] << 8 | encoded[1]);
        var reader = new AmqpReader(encoded);
        var back = BasicProperties.Read(ref reader);

        Assert.Equal(encoded, back.Encode());
        Assert.Equal("gzip", back.ContentEncoding);
        Assert.Equal((byte)9, back.Priority);
        Assert.Equal(1234ul, back.Timestamp);
        Assert.Equal("x", back.ClusterId);
    }

    [Fact]
    public void Spec_4_2_3_WrittenMethodFrame_HasSizeAndFrameEnd()
    {
        var writer = new FrameWriter();
        writer.BeginMethod(3, Method.BasicQosOk);
        writer.EndFrame();

        Assert.Equal(Hex("01 0003 00000004 003C 000B CE"), writer.Written.ToArray());
    }

    private static ReadOnlySequence<byte> Segments(params byte[][] parts)
    {
        Segment? first = null;
        Segment? last = null;
        foreach (var part in parts)
        {
            var segment = new Segment(part, last?.RunningIndex + last?.Memory.Length ?? 0);
            if (last is null)
            {
                first = segment;
            }
            else
            {
                last.SetNext(segment);
            }

            last = segment;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] data, long runningIndex)
        {
            Memory = data;
            RunningIndex = runningIndex;
        }

        public void SetNext(Segment next) => Next = next;
    }
}
