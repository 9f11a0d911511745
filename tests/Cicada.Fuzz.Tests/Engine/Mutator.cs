using System.Buffers.Binary;

namespace Cicada.Fuzz.Tests.Engine;

/// <summary>
/// Structure-aware byte mutations of valid packets: the edits that break decoders in practice
/// (bit flips, length fields set to boundary values, truncation, splicing two packets, runaway
/// variable-length integers, repeated chunks that nest containers deeply). Deterministic for a
/// given <see cref="Random"/> seed.
/// </summary>
public sealed class Mutator(Random random, IReadOnlyList<byte[]> corpus)
{
    private static readonly uint[] Interesting32 =
        [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF];

    private static readonly byte[] Interesting8 = [0, 1, 0x7F, 0x80, 0xFE, 0xFF, 0x0D, 0x0E, 0x0F, 0xC0];

    public byte[] Next()
    {
        // One input in 32 is pure noise; the rest are mutated seeds.
        if (random.Next(32) == 0)
        {
            var noise = new byte[random.Next(0, 64)];
            random.NextBytes(noise);
            return noise;
        }

        var data = new List<byte>(corpus[random.Next(corpus.Count)]);
        var edits = 1 + random.Next(4);
        for (var i = 0; i < edits; i++)
        {
            Mutate(data);
        }

        return [.. data];
    }

    private void Mutate(List<byte> data)
    {
        switch (random.Next(11))
        {
            case 0 when data.Count > 0: // bit flip
                data[random.Next(data.Count)] ^= (byte)(1 << random.Next(8));
                break;
            case 1 when data.Count > 0: // boundary byte
                data[random.Next(data.Count)] = Interesting8[random.Next(Interesting8.Length)];
                break;
            case 2 when data.Count > 1: // 16-bit length field edit (big-endian, as all three protocols)
                Overwrite(data, random.Next(data.Count - 1), 2, Boundary(data.Count));
                break;
            case 3 when data.Count > 3: // 32-bit length field edit
                Overwrite(data, random.Next(data.Count - 3), 4, Boundary(data.Count));
                break;
            case 4 when data.Count > 0: // truncation
                var keep = random.Next(data.Count);
                data.RemoveRange(keep, data.Count - keep);
                break;
            case 5: // splice: a prefix of this one with a suffix of another seed
                var other = corpus[random.Next(corpus.Count)];
                var cut = data.Count == 0 ? 0 : random.Next(data.Count);
                data.RemoveRange(cut, data.Count - cut);
                data.AddRange(other.Skip(other.Length == 0 ? 0 : random.Next(other.Length)));
                break;
            case 6: // runaway variable-length integer (MQTT remaining length / property ids, CoAP extended deltas)
                var at = data.Count == 0 ? 0 : random.Next(data.Count);
                var run = random.Next(1, 8);
                data.InsertRange(at, Enumerable.Repeat((byte)0xFF, run).Append((byte)random.Next(0x80)));
                break;
            case 7 when data.Count > 2: // repeat a chunk many times (deep nesting, many options/properties)
                var start = random.Next(data.Count - 1);
                var length = Math.Min(random.Next(1, 16), data.Count - start);
                var chunk = data.GetRange(start, length);
                var times = random.Next(2, random.Next(4) == 0 ? 5000 : 64);
                for (var i = 0; i < times && data.Count < 200_000; i++)
                {
                    data.InsertRange(start, chunk);
                }

                break;
            case 8 when data.Count > 0: // delete a range
                var from = random.Next(data.Count);
                data.RemoveRange(from, Math.Min(random.Next(1, 32), data.Count - from));
                break;
            case 9: // insert random bytes
                var bytes = new byte[random.Next(1, 16)];
                random.NextBytes(bytes);
                data.InsertRange(data.Count == 0 ? 0 : random.Next(data.Count), bytes);
                break;
            default: // random byte
                if (data.Count > 0)
                {
                    data[random.Next(data.Count)] = (byte)random.Next(256);
                }

                break;
        }
    }

    private uint Boundary(int count) => random.Next(4) switch
    {
        0 => (uint)count,
        1 => (uint)(count + random.Next(-3, 4)),
        _ => Interesting32[random.Next(Interesting32.Length)],
    };

    private static void Overwrite(List<byte> data, int offset, int width, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        for (var i = 0; i < width; i++)
        {
            data[offset + i] = bytes[4 - width + i];
        }
    }
}
