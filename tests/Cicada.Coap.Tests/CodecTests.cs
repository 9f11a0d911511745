using Cicada.Coap.Protocol;

namespace Cicada.Coap.Tests;

/// <summary>RFC 7252 §3 message format, against hand-assembled byte sequences.</summary>
public sealed class CodecTests
{
    [Fact]
    public void RFC7252_3_Header_TypeTokenCodeMessageId_AreRead()
    {
        // Ver 1, CON, TKL 2 | 0.01 GET | MID 0x1234 | token AB CD | Uri-Path "ps" (delta 11, len 2)
        byte[] datagram = [0x42, 0x01, 0x12, 0x34, 0xAB, 0xCD, 0xB2, (byte)'p', (byte)'s'];

        Assert.Equal(CoapDecodeStatus.Ok, CoapCodec.TryDecode(datagram, out var message, out _));

        Assert.Equal(CoapType.Confirmable, message.Type);
        Assert.Equal(CoapCode.Get, message.Code);
        Assert.Equal(0x1234, message.MessageId);
        Assert.Equal([0xAB, 0xCD], message.Token.ToArray());
        var option = Assert.Single(message.Options);
        Assert.Equal(CoapOptionNumber.UriPath, option.Number);
        Assert.Equal("ps", option.StringValue);
        Assert.True(message.Payload.IsEmpty);
    }

    [Fact]
    public void RFC7252_3_1_DeltaNibble13_AddsOneExtensionByte()
    {
        // Size1 (60) = delta 13 + 47; value 1 byte 0x10; then payload "x".
        byte[] datagram = [0x50, 0x02, 0x00, 0x01, 0xD1, 47, 0x10, 0xFF, (byte)'x'];

        Assert.Equal(CoapDecodeStatus.Ok, CoapCodec.TryDecode(datagram, out var message, out _));

        Assert.Equal(16u, message.GetUInt(CoapOptionNumber.Size1));
        Assert.Equal("x"u8.ToArray(), message.Payload.ToArray());
        Assert.Equal(CoapType.NonConfirmable, message.Type);
    }

    [Fact]
    public void RFC7252_3_1_DeltaAndLengthNibble14_AddTwoExtensionBytes()
    {
        // Option 2000 = 269 + 1731 (0x06C3); length 300 = 269 + 31 (0x001F).
        var value = Enumerable.Repeat((byte)'v', 300).ToArray();
        byte[] datagram = [0x40, 0x01, 0x00, 0x02, 0xEE, 0x06, 0xC3, 0x00, 0x1F, .. value];

        Assert.Equal(CoapDecodeStatus.Ok, CoapCodec.TryDecode(datagram, out var message, out _));

        var option = Assert.Single(message.Options);
        Assert.Equal(2000, option.Number);
        Assert.Equal(300, option.Value.Length);
    }

    [Theory]
    [InlineData(new byte[] { 0x40, 0x01, 0x00, 0x01, 0xF0 })]              // delta nibble 15 without the full marker
    [InlineData(new byte[] { 0x40, 0x01, 0x00, 0x01, 0x1F })]              // length nibble 15
    [InlineData(new byte[] { 0x40, 0x01, 0x00, 0x01, 0xFF })]              // payload marker, no payload
    [InlineData(new byte[] { 0x49, 0x01, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9 })] // TKL 9 is reserved
    [InlineData(new byte[] { 0x42, 0x01, 0x00, 0x01, 0xAA })]              // token runs past the datagram
    [InlineData(new byte[] { 0x40, 0x01, 0x00, 0x01, 0xB5, (byte)'a' })]    // option value runs past the datagram
    [InlineData(new byte[] { 0x40, 0x01, 0x00, 0x01, 0xD0 })]              // delta 13 without its extension byte
    [InlineData(new byte[] { 0x41, 0x00, 0x00, 0x01, 0x01 })]              // empty message with a token (§4.1)
    public void RFC7252_3_MessageFormatErrors_AreReported(byte[] datagram)
    {
        Assert.Equal(CoapDecodeStatus.FormatError, CoapCodec.TryDecode(datagram, out _, out var error));
        Assert.NotEmpty(error);
    }

    [Theory]
    [InlineData(new byte[] { 0x40, 0x01, 0x00 })]       // shorter than the header
    [InlineData(new byte[] { 0x80, 0x01, 0x00, 0x01 })] // version 2
    public void RFC7252_3_ShortOrOtherVersion_IsSilentlyIgnored(byte[] datagram) =>
        Assert.Equal(CoapDecodeStatus.Ignore, CoapCodec.TryDecode(datagram, out _, out _));

    [Fact]
    public void RFC7252_3_1_Encode_SortsOptionsAndUsesExtendedForms_RoundTrip()
    {
        var message = new CoapMessage { Type = CoapType.Acknowledgement, Code = CoapCode.Content, MessageId = 7, Token = new byte[] { 9, 8, 7 } };
        message.Add(CoapOptionNumber.Size2, CoapMessage.EncodeUInt(5000));
        message.Add(CoapOptionNumber.UriPath, "a");
        message.Add(2000, new byte[300]);
        message.Add(CoapOptionNumber.UriPath, "b");
        message.AddUInt(CoapOptionNumber.ContentFormat, 0);
        message.Payload = "hello"u8.ToArray();

        var bytes = CoapCodec.Encode(message);
        Assert.Equal(CoapDecodeStatus.Ok, CoapCodec.TryDecode(bytes, out var back, out _));

        Assert.Equal([11, 11, 12, 28, 2000], back.Options.Select(o => (int)o.Number));
        Assert.Equal(["a", "b"], back.Strings(CoapOptionNumber.UriPath));
        Assert.Equal(0, back.Options[2].Value.Length); // §3.2: uint 0 is the empty value
        Assert.Equal(5000u, back.GetUInt(CoapOptionNumber.Size2));
        Assert.Equal("hello"u8.ToArray(), back.Payload.ToArray());
        Assert.Equal([9, 8, 7], back.Token.ToArray());
        // Size2 after Content-Format: delta 16 → nibble 13 + one byte 3.
        var size2 = Array.IndexOf(bytes, (byte)0xD2);
        Assert.True(size2 > 0 && bytes[size2 + 1] == 3, Convert.ToHexString(bytes));
    }

    [Fact]
    public void RFC7252_4_1_EmptyMessage_IsFourBytes()
    {
        Assert.Equal([0x70, 0x00, 0x12, 0x34], CoapCodec.EncodeEmpty(CoapType.Reset, 0x1234));
        Assert.Equal(CoapDecodeStatus.Ok, CoapCodec.TryDecode(new byte[] { 0x40, 0x00, 0x00, 0x01 }, out var ping, out _));
        Assert.True(ping.IsEmpty);
    }

    [Theory]
    [InlineData(0u, new byte[0])]
    [InlineData(255u, new byte[] { 0xFF })]
    [InlineData(256u, new byte[] { 0x01, 0x00 })]
    [InlineData(0x1000000u, new byte[] { 0x01, 0x00, 0x00, 0x00 })]
    public void RFC7252_3_2_UInt_ShortestBigEndian(uint value, byte[] expected)
    {
        Assert.Equal(expected, CoapMessage.EncodeUInt(value));
        Assert.Equal(value, CoapMessage.ReadUInt(expected));
    }

    [Fact]
    public void RFC7252_3_2_UInt_LeadingZerosAreAccepted() => Assert.Equal(5u, CoapMessage.ReadUInt([0, 0, 5]));

    [Theory]
    [InlineData(1, true)]
    [InlineData(11, true)]
    [InlineData(4, false)]
    [InlineData(6, false)]
    [InlineData(60, false)]
    [InlineData(2049, true)]
    public void RFC7252_5_4_6_OddOptionNumbers_AreCritical(int number, bool critical) =>
        Assert.Equal(critical, CoapOptionNumber.IsCritical(number));

    [Theory]
    [InlineData(0x0Au, 0u, true, 2, 64)]     // NUM 0, M, SZX 2
    [InlineData(0x36u, 3u, false, 6, 1024)]  // NUM 3, SZX 6
    [InlineData(0xFFFFE6u, 0xFFFFEu, false, 6, 1024)]
    public void RFC7959_2_2_BlockValue_NumMoreSzx(uint value, uint number, bool more, int szx, int size)
    {
        Assert.True(BlockOption.TryDecode(value, out var block));
        Assert.Equal(new BlockOption(number, more, szx), block);
        Assert.Equal(size, block.Size);
        Assert.Equal(value, block.Encode());
        Assert.Equal(number * (long)size, block.Offset);
    }

    [Fact]
    public void RFC7959_2_2_Szx7_IsReserved() => Assert.False(BlockOption.TryDecode(0x07, out _));

    [Theory]
    [InlineData("application/json", 50)]
    [InlineData("text/plain", 0)]
    [InlineData("text/plain; charset=utf-8", 0)]
    [InlineData("Application/CBOR", 60)]
    public void RFC7252_12_3_ContentFormat_FromMediaType(string mediaType, int number) =>
        Assert.Equal((ushort)number, ContentFormats.FromMediaType(mediaType));

    [Fact]
    public void RFC7252_12_3_ContentFormat_RoundTripsEveryKnownNumber()
    {
        foreach (var number in new uint[] { 0, 40, 41, 42, 47, 50, 60, 110, 11542 })
        {
            Assert.Equal((ushort)number, ContentFormats.FromMediaType(ContentFormats.ToMediaType(number)));
        }

        Assert.Null(ContentFormats.ToMediaType(65000));
        Assert.Null(ContentFormats.FromMediaType("application/x-unknown"));
    }
}
