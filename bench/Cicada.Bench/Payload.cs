using System.Buffers.Binary;

namespace Cicada.Bench;

/// <summary>
/// What every benchmark message carries at its start, so that subscribers can tell exactly
/// which message arrived: publisher index (4 bytes), sequence number (4), send timestamp (8,
/// Stopwatch ticks — publisher and subscriber share this process, so one-way latency is exact).
/// The rest of the payload is filler up to the requested size.
/// </summary>
internal static class Payload
{
    public const int HeaderSize = 16;

    /// <summary>Publishers stop here, so a subscriber's bitmap stays bounded (32 MiB per publisher).</summary>
    public const uint MaxSequence = 1u << 28;

    public static byte[] Create(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, HeaderSize);
        var payload = new byte[size];
        for (var i = HeaderSize; i < size; i++)
        {
            payload[i] = (byte)('a' + (i % 26));
        }

        return payload;
    }

    public static void Stamp(Span<byte> payload, int publisher, uint sequence, long timestamp)
    {
        BinaryPrimitives.WriteInt32LittleEndian(payload, publisher);
        BinaryPrimitives.WriteUInt32LittleEndian(payload[4..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(payload[8..], timestamp);
    }

    public static bool TryRead(ReadOnlySpan<byte> payload, out int publisher, out uint sequence, out long timestamp)
    {
        if (payload.Length < HeaderSize)
        {
            publisher = 0;
            sequence = 0;
            timestamp = 0;
            return false;
        }

        publisher = BinaryPrimitives.ReadInt32LittleEndian(payload);
        sequence = BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
        timestamp = BinaryPrimitives.ReadInt64LittleEndian(payload[8..]);
        return true;
    }
}
