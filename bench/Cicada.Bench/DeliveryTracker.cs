using System.Diagnostics;
using System.Numerics;
using Cicada.Bench.Mqtt;
using HdrHistogram;

namespace Cicada.Bench;

/// <summary>
/// One subscriber's exact account of what it received: a bit per (publisher, sequence number),
/// so losses, duplicates and reordering are counted, not estimated. Runs on the subscriber's
/// receive loop only; the progress display reads the counters without locking.
/// </summary>
internal sealed class DeliveryTracker(int publishers, int payloadSize, LongHistogram? latency) : IPublishSink
{
    private readonly SequenceSet[] _seen = CreateSets(publishers);
    private readonly uint[] _nextExpected = new uint[publishers];
    private long _received;
    private long _unique;
    private long _duplicates;
    private long _outOfOrder;
    private long _malformed;
    private long _firstTimestamp;
    private long _lastTimestamp;

    /// <summary>Messages counted for latency only after this timestamp (warm-up excluded).</summary>
    public long RecordLatencyAfter { get; set; }

    public long Received => Volatile.Read(ref _received);

    public long Unique => Volatile.Read(ref _unique);

    public long Duplicates => Volatile.Read(ref _duplicates);

    public long OutOfOrder => Volatile.Read(ref _outOfOrder);

    /// <summary>Payloads of the wrong size or with an unknown publisher: the broker altered them.</summary>
    public long Malformed => Volatile.Read(ref _malformed);

    public long FirstTimestamp => Volatile.Read(ref _firstTimestamp);

    public long LastTimestamp => Volatile.Read(ref _lastTimestamp);

    public LongHistogram? Latency => latency;

    public long UniqueFrom(int publisher) => _seen[publisher].Count;

    public void OnPublish(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, long receivedTimestamp)
    {
        Volatile.Write(ref _received, _received + 1);
        if (_firstTimestamp == 0)
        {
            Volatile.Write(ref _firstTimestamp, receivedTimestamp);
        }

        Volatile.Write(ref _lastTimestamp, receivedTimestamp);
        if (payload.Length != payloadSize
            || !Payload.TryRead(payload, out var publisher, out var sequence, out var sent)
            || (uint)publisher >= (uint)_seen.Length
            || sequence >= Payload.MaxSequence)
        {
            Volatile.Write(ref _malformed, _malformed + 1);
            return;
        }

        if (!_seen[publisher].Add(sequence))
        {
            Volatile.Write(ref _duplicates, _duplicates + 1);
            return;
        }

        Volatile.Write(ref _unique, _unique + 1);
        if (sequence < _nextExpected[publisher])
        {
            // MQTT 3.1.1 §4.6: messages of one publisher on one topic arrive in order.
            Volatile.Write(ref _outOfOrder, _outOfOrder + 1);
        }
        else
        {
            _nextExpected[publisher] = sequence + 1;
        }

        if (latency is not null && sent > RecordLatencyAfter)
        {
            var nanoseconds = (long)((receivedTimestamp - sent) * (1e9 / Stopwatch.Frequency));
            latency.RecordValue(Math.Clamp(nanoseconds, 0, latency.HighestTrackableValue));
        }
    }

    private static SequenceSet[] CreateSets(int count)
    {
        var sets = new SequenceSet[count];
        for (var i = 0; i < count; i++)
        {
            sets[i] = new SequenceSet();
        }

        return sets;
    }

    /// <summary>A growable bitmap of sequence numbers.</summary>
    private sealed class SequenceSet
    {
        private ulong[] _bits = new ulong[16];

        public long Count { get; private set; }

        public bool Add(uint sequence)
        {
            var word = (int)(sequence >> 6);
            if (word >= _bits.Length)
            {
                Array.Resize(ref _bits, (int)Math.Max((long)_bits.Length * 2, word + 1L));
            }

            var mask = 1UL << (int)(sequence & 63);
            if ((_bits[word] & mask) != 0)
            {
                return false;
            }

            _bits[word] |= mask;
            Count++;
            return true;
        }

        /// <summary>Counts set bits below <paramref name="limit"/> (a self-check of <see cref="Count"/>).</summary>
        public long CountBelow(uint limit)
        {
            long total = 0;
            var full = (int)Math.Min(limit >> 6, (uint)_bits.Length);
            for (var i = 0; i < full; i++)
            {
                total += BitOperations.PopCount(_bits[i]);
            }

            if (full < _bits.Length && (limit & 63) != 0)
            {
                total += BitOperations.PopCount(_bits[full] & ((1UL << (int)(limit & 63)) - 1));
            }

            return total;
        }
    }

    /// <summary>Sequence numbers received from a publisher that it never sent: corruption.</summary>
    public long UnexpectedFrom(int publisher, long published) =>
        _seen[publisher].Count - _seen[publisher].CountBelow((uint)Math.Min(published, uint.MaxValue));
}
