using HdrHistogram;

namespace Cicada.Bench.Tests;

public class DeliveryTrackerTests
{
    private const int Size = 32;

    private static byte[] Message(int publisher, uint sequence, long timestamp = 1)
    {
        var payload = Payload.Create(Size);
        Payload.Stamp(payload, publisher, sequence, timestamp);
        return payload;
    }

    [Fact]
    public void Every_message_in_order_is_counted_once()
    {
        var tracker = new DeliveryTracker(2, Size, null);
        for (uint s = 0; s < 1000; s++)
        {
            tracker.OnPublish("t"u8, Message(0, s), 10);
            tracker.OnPublish("t"u8, Message(1, s), 10);
        }

        Assert.Equal(2000, tracker.Received);
        Assert.Equal(2000, tracker.Unique);
        Assert.Equal(1000, tracker.UniqueFrom(0));
        Assert.Equal(0, tracker.Duplicates);
        Assert.Equal(0, tracker.OutOfOrder);
        Assert.Equal(0, tracker.UnexpectedFrom(0, 1000));
    }

    [Fact]
    public void A_message_received_twice_is_a_duplicate_not_a_second_delivery()
    {
        var tracker = new DeliveryTracker(1, Size, null);
        tracker.OnPublish("t"u8, Message(0, 0), 10);
        tracker.OnPublish("t"u8, Message(0, 1), 10);
        tracker.OnPublish("t"u8, Message(0, 1), 10);
        Assert.Equal(3, tracker.Received);
        Assert.Equal(2, tracker.Unique);
        Assert.Equal(1, tracker.Duplicates);
    }

    [Fact]
    public void MQTT_4_6_a_late_message_from_the_same_publisher_is_out_of_order()
    {
        var tracker = new DeliveryTracker(1, Size, null);
        tracker.OnPublish("t"u8, Message(0, 0), 10);
        tracker.OnPublish("t"u8, Message(0, 2), 10);
        tracker.OnPublish("t"u8, Message(0, 1), 10);
        Assert.Equal(3, tracker.Unique);
        Assert.Equal(1, tracker.OutOfOrder);
    }

    [Fact]
    public void A_gap_is_a_loss_that_the_unique_count_reveals()
    {
        var tracker = new DeliveryTracker(1, Size, null);
        foreach (var s in new uint[] { 0, 1, 3, 4 })
        {
            tracker.OnPublish("t"u8, Message(0, s), 10);
        }

        const long published = 5;
        Assert.Equal(1, published - tracker.UniqueFrom(0));
    }

    [Fact]
    public void Altered_payloads_and_unknown_publishers_are_malformed()
    {
        var tracker = new DeliveryTracker(1, Size, null);
        tracker.OnPublish("t"u8, Message(0, 0).AsSpan(0, Size - 1), 10); // truncated
        tracker.OnPublish("t"u8, Message(5, 0), 10); // no such publisher
        tracker.OnPublish("t"u8, Message(0, Payload.MaxSequence), 10); // beyond any publisher's range
        Assert.Equal(3, tracker.Malformed);
        Assert.Equal(0, tracker.Unique);
    }

    [Fact]
    public void A_sequence_number_never_published_is_unexpected()
    {
        var tracker = new DeliveryTracker(1, Size, null);
        tracker.OnPublish("t"u8, Message(0, 0), 10);
        tracker.OnPublish("t"u8, Message(0, 70), 10);
        Assert.Equal(1, tracker.UnexpectedFrom(0, 1));
        Assert.Equal(0, tracker.UnexpectedFrom(0, 71));
    }

    [Fact]
    public void Latency_is_receive_time_minus_the_timestamp_in_the_payload_after_warm_up()
    {
        var histogram = new LongHistogram(TimeSpan.FromMinutes(1).Ticks * 100, 3);
        var tracker = new DeliveryTracker(1, Size, histogram) { RecordLatencyAfter = 100 };
        var tick = 1e9 / System.Diagnostics.Stopwatch.Frequency;
        tracker.OnPublish("t"u8, Message(0, 0, timestamp: 50), 1_000); // warm-up: not recorded
        tracker.OnPublish("t"u8, Message(0, 1, timestamp: 1_000), 1_000 + 2_000);
        Assert.Equal(1, histogram.TotalCount);
        Assert.Equal(2_000 * tick, histogram.GetValueAtPercentile(50), 2_000 * tick * 0.002);
    }
}
