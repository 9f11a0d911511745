using System.Buffers.Binary;
using System.Text;

namespace Cicada.Mqtt.Tests;

/// <summary>
/// MQTT 5 property blocks (§2.2.2) written and read by the tests themselves, independently of the
/// production codec, so a test compares the code against the spec's table rather than against itself.
/// </summary>
internal sealed class Props
{
    private readonly List<byte> _bytes = [];

    public Props Byte(byte id, byte value) => Raw(id, value);

    public Props UInt16(byte id, int value) => Raw(id, (byte)(value >> 8), (byte)value);

    public Props UInt32(byte id, uint value) => Raw(id, (byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value);

    public Props VarInt(byte id, int value) => Raw([id, .. V5Wire.VarInt(value)]);

    public Props String(byte id, string value) => Binary(id, Encoding.UTF8.GetBytes(value));

    public Props Binary(byte id, byte[] value) => Raw([id, (byte)(value.Length >> 8), (byte)value.Length, .. value]);

    public Props User(string key, string value)
    {
        var k = Encoding.UTF8.GetBytes(key);
        var v = Encoding.UTF8.GetBytes(value);
        return Raw([0x26, (byte)(k.Length >> 8), (byte)k.Length, .. k, (byte)(v.Length >> 8), (byte)v.Length, .. v]);
    }

    /// <summary>Bytes as they are, for deliberately wrong properties.</summary>
    public Props Raw(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    /// <summary>The block: Variable Byte Integer length, then the properties (§2.2.2.1).</summary>
    public byte[] Block() => [.. V5Wire.VarInt(_bytes.Count), .. _bytes];
}

internal static class PacketBuilderV5Extensions
{
    public static PacketBuilder Props(this PacketBuilder builder, Props props) => builder.Bytes(props.Block());

    /// <summary>An empty property block (length 0).</summary>
    public static PacketBuilder NoProps(this PacketBuilder builder) => builder.Bytes(0x00);
}

/// <summary>A property as the test-side reader found it; values are byte, ushort, uint, int (varint), string, byte[] or (string, string).</summary>
internal readonly record struct WireProperty(byte Id, object Value);

internal static class V5Wire
{
    public static byte[] VarInt(int value)
    {
        var bytes = new List<byte>();
        do
        {
            var b = (byte)(value % 128);
            value /= 128;
            bytes.Add(value > 0 ? (byte)(b | 0x80) : b);
        }
        while (value > 0);
        return [.. bytes];
    }

    public static int ReadVarInt(ReadOnlySpan<byte> span, ref int position)
    {
        var value = 0;
        for (var shift = 0; shift < 28; shift += 7)
        {
            var b = span[position++];
            value |= (b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new InvalidOperationException("Variable Byte Integer longer than four bytes (§1.5.5).");
    }

    /// <summary>Reads a property block at <paramref name="position"/> with the data types of §2.2.2.2's table.</summary>
    public static List<WireProperty> ReadProperties(ReadOnlySpan<byte> span, ref int position)
    {
        var length = ReadVarInt(span, ref position);
        var end = position + length;
        var props = new List<WireProperty>();
        while (position < end)
        {
            var id = span[position++];
            object value = id switch
            {
                0x01 or 0x17 or 0x19 or 0x24 or 0x25 or 0x28 or 0x29 or 0x2A => span[position++],
                0x13 or 0x21 or 0x22 or 0x23 => (ushort)Read16(span, ref position),
                0x02 or 0x11 or 0x18 or 0x27 => Read32(span, ref position),
                0x0B => ReadVarInt(span, ref position),
                0x03 or 0x08 or 0x12 or 0x15 or 0x1A or 0x1C or 0x1F => Encoding.UTF8.GetString(ReadBinary(span, ref position)),
                0x09 or 0x16 => ReadBinary(span, ref position),
                0x26 => (Encoding.UTF8.GetString(ReadBinary(span, ref position)), Encoding.UTF8.GetString(ReadBinary(span, ref position))),
                _ => throw new InvalidOperationException($"Unknown property identifier 0x{id:X2}."),
            };
            props.Add(new WireProperty(id, value));
        }

        Assert.Equal(end, position);
        return props;
    }

    private static int Read16(ReadOnlySpan<byte> span, ref int position)
    {
        var value = BinaryPrimitives.ReadUInt16BigEndian(span[position..]);
        position += 2;
        return value;
    }

    private static uint Read32(ReadOnlySpan<byte> span, ref int position)
    {
        var value = BinaryPrimitives.ReadUInt32BigEndian(span[position..]);
        position += 4;
        return value;
    }

    private static byte[] ReadBinary(ReadOnlySpan<byte> span, ref int position)
    {
        var length = Read16(span, ref position);
        var value = span.Slice(position, length).ToArray();
        position += length;
        return value;
    }

    public static object? Single(this List<WireProperty> props, byte id) =>
        props.Where(p => p.Id == id).Select(p => p.Value).SingleOrDefault();
}
