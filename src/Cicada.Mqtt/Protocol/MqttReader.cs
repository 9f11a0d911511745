using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Cicada.Mqtt.Protocol;

/// <summary>Reads MQTT data types (§1.5) from one packet's body; every overrun is a malformed packet.</summary>
internal ref struct MqttReader(ReadOnlySpan<byte> span)
{
    private readonly ReadOnlySpan<byte> _span = span;
    private int _position;

    public readonly int Remaining => _span.Length - _position;

    public readonly bool End => _position == _span.Length;

    public byte ReadByte()
    {
        if (_position >= _span.Length)
        {
            ThrowHelper.Protocol("MQTT-2.2.3", "Packet shorter than its content");
        }

        return _span[_position++];
    }

    public ushort ReadUInt16()
    {
        if (Remaining < 2)
        {
            ThrowHelper.Protocol("MQTT-2.2.3", "Packet shorter than its content");
        }

        var value = BinaryPrimitives.ReadUInt16BigEndian(_span[_position..]);
        _position += 2;
        return value;
    }

    /// <summary>Two-byte length then that many bytes (§1.5.3, §1.5.4 binary data).</summary>
    public ReadOnlySpan<byte> ReadBinary()
    {
        var length = ReadUInt16();
        if (Remaining < length)
        {
            ThrowHelper.Protocol("MQTT-2.2.3", "Length prefix runs past the end of the packet");
        }

        var value = _span.Slice(_position, length);
        _position += length;
        return value;
    }

    /// <summary>
    /// A UTF-8 string: well-formed (no surrogate code points, MQTT-1.5.3-1) and without U+0000
    /// (MQTT-1.5.3-2); either breach closes the connection.
    /// </summary>
    public string ReadString()
    {
        var bytes = ReadBinary();
        if (bytes.IndexOf((byte)0) >= 0)
        {
            ThrowHelper.Protocol("MQTT-1.5.3-2", "String contains U+0000");
        }

        if (!Utf8.IsValid(bytes))
        {
            ThrowHelper.Protocol("MQTT-1.5.3-1", "String is not well-formed UTF-8");
        }

        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Variable Byte Integer (§1.5.5): at most four bytes.</summary>
    public int ReadVarInt()
    {
        var value = 0;
        for (var shift = 0; shift < 28; shift += 7)
        {
            var b = ReadByte();
            value |= (b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                if (b == 0 && shift > 0)
                {
                    // MQTT 5 MQTT-1.5.5-1: the minimum number of bytes; a trailing 0x00 byte is not.
                    ThrowHelper.Protocol("MQTT-1.5.5-1", "Variable byte integer not in its shortest form");
                }

                return value;
            }
        }

        return ThrowHelper.Protocol<int>("MQTT-1.5.5-1", "Variable byte integer longer than four bytes");
    }

    public uint ReadUInt32()
    {
        if (Remaining < 4)
        {
            ThrowHelper.Protocol("MQTT-2.2.3", "Packet shorter than its content");
        }

        var value = BinaryPrimitives.ReadUInt32BigEndian(_span[_position..]);
        _position += 4;
        return value;
    }

    /// <summary>Takes the next <paramref name="length"/> bytes as a reader of their own (a property block).</summary>
    public MqttReader Slice(int length)
    {
        if (length < 0 || Remaining < length)
        {
            ThrowHelper.Protocol("MQTT-2.2.3", "Length runs past the end of the packet");
        }

        var slice = new MqttReader(_span.Slice(_position, length));
        _position += length;
        return slice;
    }

    public ReadOnlySpan<byte> ReadRest()
    {
        var rest = _span[_position..];
        _position = _span.Length;
        return rest;
    }
}
