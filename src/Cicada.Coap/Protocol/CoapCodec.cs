using System.Buffers.Binary;

namespace Cicada.Coap.Protocol;

/// <summary>Outcome of <see cref="CoapCodec.TryDecode"/>.</summary>
public enum CoapDecodeStatus
{
    Ok,

    /// <summary>Fewer than 4 bytes, or not version 1: nothing to answer (§3: "silently ignored").</summary>
    Ignore,

    /// <summary>A message format error after a readable header: a CON is rejected with RST (§4.2), a NON ignored (§4.3).</summary>
    FormatError,
}

/// <summary>
/// The UDP message format (RFC 7252 §3): a 4-byte header, a 0–8 byte token, delta/length encoded
/// options and a payload after the 0xFF marker. Stateless; the message layer decides what a
/// format error means for the exchange.
/// </summary>
public static class CoapCodec
{
    public const byte Version = 1;
    public const byte PayloadMarker = 0xFF;

    /// <summary>
    /// Decodes one datagram. Slices of <paramref name="datagram"/> become the token, option values
    /// and payload, so the caller must not reuse the buffer while the message lives.
    /// </summary>
    public static CoapDecodeStatus TryDecode(ReadOnlyMemory<byte> datagram, out CoapMessage message, out string error)
    {
        message = new CoapMessage();
        error = string.Empty;
        var span = datagram.Span;
        if (span.Length < 4)
        {
            error = "shorter than the 4-byte header";
            return CoapDecodeStatus.Ignore;
        }

        // §3: Ver MUST be 1; other versions are silently ignored.
        if (span[0] >> 6 != Version)
        {
            error = $"version {span[0] >> 6}";
            return CoapDecodeStatus.Ignore;
        }

        message.Type = (CoapType)(span[0] >> 4 & 0x3);
        var tokenLength = span[0] & 0x0F;
        message.Code = span[1];
        message.MessageId = BinaryPrimitives.ReadUInt16BigEndian(span[2..]);

        // §3: token lengths 9–15 are reserved and MUST be processed as a message format error.
        if (tokenLength > CoapMessage.MaxTokenLength)
        {
            error = $"token length {tokenLength}";
            return CoapDecodeStatus.FormatError;
        }

        if (span.Length < 4 + tokenLength)
        {
            error = "truncated token";
            return CoapDecodeStatus.FormatError;
        }

        message.Token = datagram.Slice(4, tokenLength);
        var offset = 4 + tokenLength;

        // §4.1: an empty message (0.00) has no token, options or payload.
        if (message.Code == CoapCode.Empty)
        {
            if (tokenLength != 0 || span.Length != 4)
            {
                error = "empty message with token, options or payload";
                return CoapDecodeStatus.FormatError;
            }

            return CoapDecodeStatus.Ok;
        }

        var number = 0;
        while (offset < span.Length)
        {
            var first = span[offset];
            if (first == PayloadMarker)
            {
                // §3: a marker followed by a zero-length payload is a message format error.
                if (offset + 1 == span.Length)
                {
                    error = "payload marker without payload";
                    return CoapDecodeStatus.FormatError;
                }

                message.Payload = datagram[(offset + 1)..];
                return CoapDecodeStatus.Ok;
            }

            offset++;
            if (!TryReadExtended(span, first >> 4, ref offset, out var delta)
                || !TryReadExtended(span, first & 0x0F, ref offset, out var length))
            {
                error = "reserved option delta/length 15 or truncated extension";
                return CoapDecodeStatus.FormatError;
            }

            number += delta;
            if (number > ushort.MaxValue)
            {
                error = $"option number {number}";
                return CoapDecodeStatus.FormatError;
            }

            if (offset + length > span.Length)
            {
                error = $"option {number} value runs past the datagram";
                return CoapDecodeStatus.FormatError;
            }

            message.Add((ushort)number, datagram.Slice(offset, length));
            offset += length;
        }

        return CoapDecodeStatus.Ok;
    }

    /// <summary>§3.1: nibble 0–12 is the value, 13 adds one byte (+13), 14 two bytes (+269), 15 is reserved.</summary>
    private static bool TryReadExtended(ReadOnlySpan<byte> span, int nibble, ref int offset, out int value)
    {
        switch (nibble)
        {
            case < 13:
                value = nibble;
                return true;
            case 13 when offset < span.Length:
                value = span[offset++] + 13;
                return true;
            case 14 when offset + 1 < span.Length:
                value = BinaryPrimitives.ReadUInt16BigEndian(span[offset..]) + 269;
                offset += 2;
                return true;
            default:
                value = 0;
                return false;
        }
    }

    public static byte[] Encode(CoapMessage message)
    {
        var token = message.Token.Span;
        if (token.Length > CoapMessage.MaxTokenLength)
        {
            throw new ArgumentException("token longer than 8 bytes (RFC 7252 §3)", nameof(message));
        }

        var size = 4 + token.Length;
        var previous = 0;
        foreach (var option in message.Options)
        {
            size += 1 + ExtendedSize(option.Number - previous) + ExtendedSize(option.Value.Length) + option.Value.Length;
            previous = option.Number;
        }

        if (!message.Payload.IsEmpty)
        {
            size += 1 + message.Payload.Length;
        }

        var buffer = new byte[size];
        buffer[0] = (byte)(Version << 6 | (int)message.Type << 4 | token.Length);
        buffer[1] = message.Code;
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), message.MessageId);
        token.CopyTo(buffer.AsSpan(4));
        var offset = 4 + token.Length;
        previous = 0;
        foreach (var option in message.Options)
        {
            var delta = option.Number - previous;
            var length = option.Value.Length;
            var header = offset++;
            buffer[header] = (byte)(Nibble(delta) << 4 | Nibble(length));
            WriteExtended(buffer, delta, ref offset);
            WriteExtended(buffer, length, ref offset);
            option.Value.Span.CopyTo(buffer.AsSpan(offset));
            offset += length;
            previous = option.Number;
        }

        if (!message.Payload.IsEmpty)
        {
            buffer[offset++] = PayloadMarker;
            message.Payload.Span.CopyTo(buffer.AsSpan(offset));
        }

        return buffer;
    }

    /// <summary>An empty ACK or RST (§4.2, §4.3): header only.</summary>
    public static byte[] EncodeEmpty(CoapType type, ushort messageId) =>
        [(byte)(Version << 6 | (int)type << 4), CoapCode.Empty, (byte)(messageId >> 8), (byte)messageId];

    private static int ExtendedSize(int value) => value < 13 ? 0 : value < 269 ? 1 : 2;

    private static int Nibble(int value) => value < 13 ? value : value < 269 ? 13 : 14;

    private static void WriteExtended(byte[] buffer, int value, ref int offset)
    {
        if (value >= 269)
        {
            BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(offset), (ushort)(value - 269));
            offset += 2;
        }
        else if (value >= 13)
        {
            buffer[offset++] = (byte)(value - 13);
        }
    }
}
