using System.Buffers;
using System.Text;

namespace Cicada.Mqtt.Tests;

/// <summary>Builds packet bodies byte by byte, as the spec's tables lay them out.</summary>
internal sealed class PacketBuilder
{
    private readonly List<byte> _bytes = [];

    public PacketBuilder Bytes(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    public PacketBuilder UInt16(int value) => Bytes((byte)(value >> 8), (byte)value);

    /// <summary>A UTF-8 string with its two-byte length (§1.5.3).</summary>
    public PacketBuilder String(string value) => Binary(Encoding.UTF8.GetBytes(value));

    /// <summary>Two-byte length then the raw bytes: for strings that are deliberately not UTF-8.</summary>
    public PacketBuilder Binary(params byte[] value) => UInt16(value.Length).Bytes(value);

    public byte[] ToArray() => [.. _bytes];

    /// <summary>A whole packet: the first header byte, the remaining length (§2.2.3), this body.</summary>
    public byte[] Packet(byte header)
    {
        var body = ToArray();
        var length = new List<byte>();
        var n = body.Length;
        do
        {
            var b = (byte)(n % 128);
            n /= 128;
            length.Add(n > 0 ? (byte)(b | 0x80) : b);
        }
        while (n > 0);

        return [header, .. length, .. body];
    }
}

/// <summary>One segment of a hand-made multi-segment <see cref="ReadOnlySequence{T}"/>, as a pipe hands them out.</summary>
internal sealed class Chunk : ReadOnlySequenceSegment<byte>
{
    private Chunk(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    /// <summary>Cuts <paramref name="data"/> into segments of <paramref name="size"/> bytes (the last may be shorter).</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, int size)
    {
        if (data.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Chunk(data.AsMemory(0, Math.Min(size, data.Length)), 0);
        var last = first;
        for (var offset = size; offset < data.Length; offset += size)
        {
            var next = new Chunk(data.AsMemory(offset, Math.Min(size, data.Length - offset)), offset);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
