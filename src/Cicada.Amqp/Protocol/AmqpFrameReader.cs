using System.Buffers;
using System.Buffers.Binary;

namespace Cicada.Amqp.Protocol;

internal enum FrameStatus
{
    Done,
    NeedMoreData,

    /// <summary>The header announces a frame larger than the negotiated frame-max (§4.2.3): 501, before buffering it.</summary>
    TooLarge,

    /// <summary>The octet after the payload is not frame-end (§2.3.5.1): 501.</summary>
    BadFrameEnd,
}

/// <summary>One frame; <see cref="Payload"/> is a slice of the pipe's buffer, valid until it is advanced.</summary>
internal readonly record struct AmqpFrame(byte Type, ushort Channel, ReadOnlySequence<byte> Payload);

/// <summary>
/// Resumable framer over the pipe's buffer: reads the 7-octet header, checks the size against the
/// limit before waiting for the payload, so an oversized frame is refused without being buffered.
/// </summary>
internal static class AmqpFrameReader
{
    /// <summary>"AMQP" 0 0 9 1: the protocol header of AMQP 0-9-1 (§4.2.2).</summary>
    public static ReadOnlySpan<byte> ProtocolHeader => "AMQP\0\0\u0009\u0001"u8;

    public static FrameStatus TryRead(ref ReadOnlySequence<byte> buffer, uint maxFrameSize, out AmqpFrame frame, out uint size)
    {
        frame = default;
        size = 0;
        if (buffer.Length < FrameType.HeaderSize)
        {
            return FrameStatus.NeedMoreData;
        }

        Span<byte> scratch = stackalloc byte[FrameType.HeaderSize];
        scoped ReadOnlySpan<byte> header;
        if (buffer.FirstSpan.Length >= FrameType.HeaderSize)
        {
            header = buffer.FirstSpan[..FrameType.HeaderSize];
        }
        else
        {
            buffer.Slice(0, FrameType.HeaderSize).CopyTo(scratch);
            header = scratch;
        }

        size = BinaryPrimitives.ReadUInt32BigEndian(header[3..]);

        // frame-max counts the whole frame, header and frame-end included (§4.2.3).
        if ((ulong)size + FrameType.Overhead > maxFrameSize)
        {
            return FrameStatus.TooLarge;
        }

        var total = size + FrameType.Overhead;
        if (buffer.Length < total)
        {
            return FrameStatus.NeedMoreData;
        }

        var type = header[0];
        var channel = BinaryPrimitives.ReadUInt16BigEndian(header[1..]);
        var end = buffer.Slice(FrameType.HeaderSize + size, 1).FirstSpan[0];
        if (end != FrameType.End)
        {
            return FrameStatus.BadFrameEnd;
        }

        frame = new AmqpFrame(type, channel, buffer.Slice(FrameType.HeaderSize, size));
        buffer = buffer.Slice(total);
        return FrameStatus.Done;
    }
}
