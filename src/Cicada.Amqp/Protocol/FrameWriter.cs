using System.Buffers;
using System.Buffers.Binary;
using System.Collections;
using System.Text;

namespace Cicada.Amqp.Protocol;

/// <summary>
/// Builds frames into a growable buffer: <see cref="BeginFrame"/> reserves the header,
/// <see cref="EndFrame"/> patches the size and appends frame-end. One per connection (or per
/// write batch), reused; the caller copies <see cref="Written"/> to the pipe.
/// </summary>
internal sealed class FrameWriter
{
    private byte[] _buffer;
    private int _length;
    private int _frameStart = -1;
    private int _bitPos = -1;
    private int _bitIndex;

    public FrameWriter(int capacity = 4096) => _buffer = new byte[capacity];

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _length);

    public int Length => _length;

    public void Clear()
    {
        _length = 0;
        _frameStart = -1;
        _bitPos = -1;
    }

    /// <summary>Drops everything from <paramref name="length"/> on (the part of a batch already sent).</summary>
    public void Truncate(int length) => _length = Math.Min(length, _length);

    private Span<byte> Grow(int count)
    {
        _bitPos = -1;
        if (_buffer.Length - _length < count)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        }

        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }

    public void BeginFrame(byte type, ushort channel)
    {
        var header = Grow(FrameType.HeaderSize);
        header[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(header[1..], channel);
        _frameStart = _length;
    }

    public void EndFrame()
    {
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(_frameStart - 4), (uint)(_length - _frameStart));
        Grow(1)[0] = FrameType.End;
        _frameStart = -1;
    }

    /// <summary>Starts a method frame with its class and method ids (§4.2.4).</summary>
    public void BeginMethod(ushort channel, uint method)
    {
        BeginFrame(FrameType.Method, channel);
        WriteShort(Method.Class(method));
        WriteShort(Method.Id(method));
    }

    /// <summary>A method frame without arguments.</summary>
    public void Method0(ushort channel, uint method)
    {
        BeginMethod(channel, method);
        EndFrame();
    }

    public void WriteHeartbeat()
    {
        BeginFrame(FrameType.Heartbeat, 0);
        EndFrame();
    }

    public void WriteOctet(byte value) => Grow(1)[0] = value;

    public void WriteShort(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(Grow(2), value);

    public void WriteLong(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Grow(4), value);

    public void WriteLongLong(ulong value) => BinaryPrimitives.WriteUInt64BigEndian(Grow(8), value);

    /// <summary>Packs consecutive bits into shared octets, low bit first (§4.2.5.2).</summary>
    public void WriteBit(bool value)
    {
        if (_bitPos < 0 || _bitIndex == 8)
        {
            Grow(1)[0] = 0;
            _bitPos = _length - 1;
            _bitIndex = 0;
        }

        if (value)
        {
            _buffer[_bitPos] |= (byte)(1 << _bitIndex);
        }

        _bitIndex++;
    }

    public void WriteShortString(string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        if (count > 255)
        {
            throw new ArgumentException("short string longer than 255 octets", nameof(value));
        }

        WriteOctet((byte)count);
        Encoding.UTF8.GetBytes(value, Grow(count));
    }

    public void WriteLongString(string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        WriteLong((uint)count);
        Encoding.UTF8.GetBytes(value, Grow(count));
    }

    public void WriteLongString(ReadOnlySpan<byte> value)
    {
        WriteLong((uint)value.Length);
        value.CopyTo(Grow(value.Length));
    }

    public void WriteBytes(ReadOnlySpan<byte> value) => value.CopyTo(Grow(value.Length));

    public void WriteTable(IEnumerable<KeyValuePair<string, object?>>? table)
    {
        var start = _length;
        WriteLong(0);
        if (table is not null)
        {
            foreach (var (name, value) in table)
            {
                WriteShortString(name);
                WriteFieldValue(value);
            }
        }

        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(start), (uint)(_length - start - 4));
    }

    public void WriteFieldValue(object? value)
    {
        switch (value)
        {
            case null: WriteOctet((byte)'V'); break;
            case bool b: WriteOctet((byte)'t'); WriteOctet(b ? (byte)1 : (byte)0); break;
            case sbyte sb: WriteOctet((byte)'b'); WriteOctet((byte)sb); break;
            case byte ub: WriteOctet((byte)'B'); WriteOctet(ub); break;
            case short s: WriteOctet((byte)'s'); WriteShort((ushort)s); break;
            case ushort us: WriteOctet((byte)'u'); WriteShort(us); break;
            case int i: WriteOctet((byte)'I'); WriteLong((uint)i); break;
            case uint ui: WriteOctet((byte)'i'); WriteLong(ui); break;
            case long l: WriteOctet((byte)'l'); WriteLongLong((ulong)l); break;
            case ulong ul: WriteOctet((byte)'l'); WriteLongLong(ul); break;
            case float f: WriteOctet((byte)'f'); BinaryPrimitives.WriteSingleBigEndian(Grow(4), f); break;
            case double d: WriteOctet((byte)'d'); BinaryPrimitives.WriteDoubleBigEndian(Grow(8), d); break;
            case decimal m: WriteDecimal(m); break;
            case string str: WriteOctet((byte)'S'); WriteLongString(str); break;
            case byte[] bytes: WriteOctet((byte)'x'); WriteLongString(bytes); break;
            case AmqpTimestamp t: WriteOctet((byte)'T'); WriteLongLong(t.Seconds); break;
            case IEnumerable<KeyValuePair<string, object?>> table: WriteOctet((byte)'F'); WriteTable(table); break;
            case IList list:
                WriteOctet((byte)'A');
                var start = _length;
                WriteLong(0);
                foreach (var item in list)
                {
                    WriteFieldValue(item);
                }

                BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(start), (uint)(_length - start - 4));
                break;
            default:
                WriteOctet((byte)'S');
                WriteLongString(value.ToString() ?? string.Empty);
                break;
        }
    }

    private void WriteDecimal(decimal value)
    {
        // 'D' is a scale octet and a signed 32-bit unscaled value (§4.2.5.5).
        var bits = decimal.GetBits(value);
        var scale = (byte)(bits[3] >> 16 & 0xFF);
        var unscaled = (int)bits[0];
        WriteOctet((byte)'D');
        WriteOctet(scale);
        WriteLong((uint)((bits[3] & int.MinValue) != 0 ? -unscaled : unscaled));
    }

    /// <summary>Copies what was written to <paramref name="output"/> (no flush).</summary>
    public void CopyTo(IBufferWriter<byte> output)
    {
        output.Write(Written);
    }
}
