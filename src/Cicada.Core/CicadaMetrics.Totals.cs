using System.Diagnostics.Metrics;

namespace Cicada.Core;

/// <summary>
/// Running totals of the broker's own counters, readable in-process ($SYS topics, dashboards).
/// A <see cref="Counter{T}"/> cannot be read back, so the meter is listened to: the edges keep
/// calling <c>MessagesSent.Add(n)</c> as before and every sum is kept here as well.
/// </summary>
public sealed partial class CicadaMetrics
{
    private readonly Totals _sums = new();

    private readonly MeterListener _totals = new();

    /// <summary>Messages published into the broker since start (every edge, wills included).</summary>
    public long TotalMessagesReceived => Interlocked.Read(ref _sums.Received);

    /// <summary>Deliveries written to subscribers since start.</summary>
    public long TotalMessagesSent => Interlocked.Read(ref _sums.Sent);

    /// <summary>Deliveries dropped by full session queues since start.</summary>
    public long TotalMessagesDropped => Interlocked.Read(ref _sums.Dropped);

    private sealed class Totals
    {
        public long Received;
        public long Sent;
        public long Dropped;
    }

    /// <summary>Called once the instruments exist: <see cref="MeterListener.Start"/> enables them then.</summary>
    private void StartTotals()
    {
        _totals.InstrumentPublished = (instrument, listener) =>
        {
            // Only this instance's meter: another broker in the same process (tests) has its own.
            // Only the three summed here: the other counters would pay a callback per Add for nothing.
            if (ReferenceEquals(instrument, MessagesReceived) || ReferenceEquals(instrument, MessagesSent)
                || ReferenceEquals(instrument, MessagesDropped))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _totals.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (ReferenceEquals(instrument, MessagesReceived))
            {
                Interlocked.Add(ref _sums.Received, value);
            }
            else if (ReferenceEquals(instrument, MessagesSent))
            {
                Interlocked.Add(ref _sums.Sent, value);
            }
            else if (ReferenceEquals(instrument, MessagesDropped))
            {
                Interlocked.Add(ref _sums.Dropped, value);
            }
        });
        _totals.Start();
    }
}
