namespace Cicada.Coap.Protocol;

/// <summary>
/// A Block1/Block2 value (RFC 7959 §2.2): NUM (up to 20 bits), M ("more") and SZX, the block
/// size as 2^(SZX+4) bytes, 16 to 1024.
/// </summary>
public readonly record struct BlockOption(uint Number, bool More, int SizeExponent)
{
    public const int MaxSizeExponent = 6;

    public int Size => 1 << (SizeExponent + 4);

    /// <summary>Byte offset of this block in the whole body.</summary>
    public long Offset => (long)Number * Size;

    public uint Encode() => Number << 4 | (More ? 8u : 0u) | (uint)SizeExponent;

    /// <summary>
    /// Decodes a value; false for SZX 7, which is reserved (BERT, RFC 8323, is for reliable
    /// transports only) and so a bad request here (RFC 7959 §2.2).
    /// </summary>
    public static bool TryDecode(uint value, out BlockOption block)
    {
        block = new BlockOption(value >> 4, (value & 8) != 0, (int)(value & 7));
        return block.SizeExponent <= MaxSizeExponent;
    }

    /// <summary>The largest SZX whose block fits in <paramref name="bytes"/>.</summary>
    public static int ExponentFor(int bytes)
    {
        var szx = MaxSizeExponent;
        while (szx > 0 && 1 << (szx + 4) > bytes)
        {
            szx--;
        }

        return szx;
    }
}
