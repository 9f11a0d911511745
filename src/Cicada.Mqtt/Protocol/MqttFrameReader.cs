using System.Buffers;

namespace Cicada.Mqtt.Protocol;

/// <summary>Outcome of scanning the input for one control packet.</summary>
public enum FrameStatus
{
    Done,
    NeedMoreData,

    /// <summary>Remaining length longer than four bytes or not in its shortest form (§2.2.3, MQTT-1.5.5-1).</summary>
    Malformed,

    /// <summary>Larger than the configured maximum: refused before it is buffered.</summary>
    TooLarge,
}

/// <summary>One control packet: the first header byte and the variable header + payload.</summary>
public readonly struct MqttFrame(byte header, ReadOnlySequence<byte> body)
{
    public byte Header { get; } = header;
    public ReadOnlySequence<byte> Body { get; } = body;
    public MqttPacketType Type => (MqttPacketType)(Header >> 4);
    public int Flags => Header & 0x0F;
}

/// <summary>
/// A resumable framer over the input pipe (fixed header + remaining length, MQTT 3.1.1 §2.2):
/// it only finds packet boundaries; decoding is separate.
/// </summary>
public static class MqttFrameReader
{
    public static FrameStatus TryRead(ref ReadOnlySequence<byte> buffer, int maxPacketSize, out MqttFrame frame, out int packetSize)
    {
        frame = default;
        packetSize = 0;
        if (buffer.Length < 2)
        {
            return FrameStatus.NeedMoreData;
        }

        Span<byte> head = stackalloc byte[5];
        var available = (int)Math.Min(5, buffer.Length);
        buffer.Slice(0, available).CopyTo(head);

        // Remaining length: 1..4 bytes, 7 bits each, high bit = continuation (§2.2.3).
        var remaining = 0;
        var multiplier = 1;
        var i = 1;
        while (true)
        {
            if (i >= available)
            {
                return available == 5 ? FrameStatus.Malformed : FrameStatus.NeedMoreData;
            }

            var b = head[i++];
            remaining += (b & 0x7F) * multiplier;
            if ((b & 0x80) == 0)
            {
                if (b == 0 && i > 2)
                {
                    // §2.2.3 / MQTT 5 MQTT-1.5.5-1: the remaining length uses the fewest bytes; a
                    // continuation followed by 0x00 (e.g. 0x80 0x00 for 0) is malformed.
                    return FrameStatus.Malformed;
                }

                break;
            }

            if (i == 5)
            {
                return FrameStatus.Malformed;
            }

            multiplier <<= 7;
        }

        packetSize = i + remaining;
        if (packetSize > maxPacketSize)
        {
            return FrameStatus.TooLarge;
        }

        if (buffer.Length < packetSize)
        {
            return FrameStatus.NeedMoreData;
        }

        frame = new MqttFrame(head[0], buffer.Slice(i, remaining));
        buffer = buffer.Slice(packetSize);
        return FrameStatus.Done;
    }
}
