using System.Buffers.Binary;
using System.Text;

namespace Cicada.Amqp.Protocol;

/// <summary>
/// Reads method arguments and content-header properties from one frame's payload (§4.2.5 data
/// types). Consecutive bit fields share octets (§4.2.5.2); any other field ends a bit run. Reading
/// past the end is a syntax error (502), never an exception of another kind.
/// </summary>
internal ref struct AmqpReader(ReadOnlySpan<byte> data)
{
    /// <summary>
    /// Tables and arrays nested deeper than this are a syntax error. The reader recurses per level
    /// and one frame could otherwise nest some twenty thousand deep (six octets a level) and
    /// overflow the stack, which no catch can handle: the broker process would die.
    /// </summary>
    public const int MaxNestingDepth = 64;

    private readonly ReadOnlySpan<byte> _data = data;
    private int _depth;
    private int _pos;
    private int _bitOctet = -1;
    private int _bitIndex;

    public readonly int Remaining => _data.Length - _pos;

    public readonly bool End => _pos >= _data.Length;

    private ReadOnlySpan<byte> Take(int count)
    {
        _bitOctet = -1;
        if (count < 0 || _data.Length - _pos < count)
        {
            Throw.Malformed($"frame ends inside a field ({count} octets wanted, {_data.Length - _pos} left)");
        }

        var span = _data.Slice(_pos, count);
        _pos += count;
        return span;
    }

    public byte ReadOctet() => Take(1)[0];

    public ushort ReadShort() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

    public uint ReadLong() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    public ulong ReadLongLong() => BinaryPrimitives.ReadUInt64BigEndian(Take(8));

    public bool ReadBit()
    {
        if (_bitOctet < 0 || _bitIndex == 8)
        {
            var octet = Take(1)[0];
            _bitOctet = octet;
            _bitIndex = 0;
        }

        return (_bitOctet >> _bitIndex++ & 1) != 0;
    }

    public string ReadShortString()
    {
        var length = ReadOctet();
        return Decode(Take(length));
    }

    public ReadOnlySpan<byte> ReadLongStringBytes()
    {
        var length = ReadLong();
        if (length > int.MaxValue)
        {
            Throw.Malformed("long string too long");
        }

        return Take((int)length);
    }

    public string ReadLongString() => Decode(ReadLongStringBytes());

    /// <summary>A field table (§4.2.5.5, with RabbitMQ's value types as the 0-9-1 errata lists them).</summary>
    public Dictionary<string, object?> ReadTable()
    {
        var length = ReadLong();
        if (length > int.MaxValue)
        {
            Throw.Malformed("field table too long");
        }

        var inner = Nested(Take((int)length));
        var table = new Dictionary<string, object?>(StringComparer.Ordinal);
        while (!inner.End)
        {
            var name = inner.ReadShortString();
            table[name] = inner.ReadFieldValue();
        }

        return table;
    }

    /// <summary>Reads the table's body without the length prefix (the AMQPLAIN response, §RabbitMQ auth mechanisms).</summary>
    public static Dictionary<string, object?> ReadTableBody(ReadOnlySpan<byte> body)
    {
        var inner = new AmqpReader(body);
        var table = new Dictionary<string, object?>(StringComparer.Ordinal);
        while (!inner.End)
        {
            var name = inner.ReadShortString();
            table[name] = inner.ReadFieldValue();
        }

        return table;
    }

    public object? ReadFieldValue()
    {
        var type = (char)ReadOctet();
        switch (type)
        {
            case 't': return ReadOctet() != 0;
            case 'b': return (sbyte)ReadOctet();
            case 'B': return ReadOctet();
            case 's': return (short)ReadShort();
            case 'u': return ReadShort();
            case 'I': return (int)ReadLong();
            case 'i': return ReadLong();
            case 'l': return (long)ReadLongLong();
            case 'f': return BinaryPrimitives.ReadSingleBigEndian(Take(4));
            case 'd': return BinaryPrimitives.ReadDoubleBigEndian(Take(8));
            case 'D':
                var scale = ReadOctet();
                var value = (int)ReadLong();

                // The magnitude as 32 unsigned bits: Math.Abs(int.MinValue) would throw OverflowException.
                var magnitude = unchecked((int)(uint)Math.Abs((long)value));
                return scale > 28 ? Throw.Malformed<object?>("decimal scale above 28") : new decimal(magnitude, 0, 0, value < 0, scale);
            case 'S': return ReadLongString();
            case 'x': return ReadLongStringBytes().ToArray();
            case 'T': return new AmqpTimestamp(ReadLongLong());
            case 'F': return ReadTable();
            case 'V': return null;
            case 'A':
                var length = ReadLong();
                if (length > int.MaxValue)
                {
                    Throw.Malformed("field array too long");
                }

                var inner = Nested(Take((int)length));
                var list = new List<object?>();
                while (!inner.End)
                {
                    list.Add(inner.ReadFieldValue());
                }

                return list;
            default:
                return Throw.Malformed<object?>($"unknown field value type '{type}'");
        }
    }

    private readonly AmqpReader Nested(ReadOnlySpan<byte> data)
    {
        if (_depth >= MaxNestingDepth)
        {
            Throw.Malformed($"field tables/arrays nested more than {MaxNestingDepth} deep");
        }

        return new AmqpReader(data) { _depth = _depth + 1 };
    }

    private static string Decode(ReadOnlySpan<byte> bytes) => bytes.IsEmpty ? string.Empty : Encoding.UTF8.GetString(bytes);
}

/// <summary>A field-table timestamp ('T'): seconds since the Unix epoch (§4.2.5.4).</summary>
internal readonly record struct AmqpTimestamp(ulong Seconds);
