namespace Cicada.Core.Tests;

/// <summary>
/// The per-message encoding cache (fan-out by reference, DESIGN.md hot-path rules): each variant is
/// encoded once and shared by every subscriber that wants it, and the common single-variant case
/// does not pay for a table of every slot.
/// </summary>
public class MessageEncodingCacheTests
{
    private static Message NewMessage() => new("cache/topic", new byte[64], QoS.AtMostOnce, retain: false);

    [Fact]
    public void Each_variant_is_encoded_once_and_the_same_instance_is_shared()
    {
        var message = NewMessage();
        var calls = new int[Message.EncodingSlots];
        object Encode(int slot) => message.GetOrAddEncoding(slot, slot, (_, s) =>
        {
            calls[s]++;
            return new object();
        });

        var first = Encode(3);
        Assert.Same(first, Encode(3));

        // A second and third variant: the first stays cached and shared.
        var second = Encode(7);
        var third = Encode(0);
        Assert.Same(first, Encode(3));
        Assert.Same(second, Encode(7));
        Assert.Same(third, Encode(0));
        Assert.NotSame(first, second);
        Assert.Equal(1, calls[3]);
        Assert.Equal(1, calls[7]);
        Assert.Equal(1, calls[0]);
    }

    [Fact]
    public async Task Concurrent_callers_all_get_one_shared_instance_per_variant()
    {
        for (var round = 0; round < 200; round++)
        {
            var message = NewMessage();
            using var start = new Barrier(4);
            var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(worker => Task.Run(() =>
            {
                start.SignalAndWait();
                var slot = worker % 2 == 0 ? 1 : 5;
                return (slot, value: message.GetOrAddEncoding(slot, 0, static (_, _) => new object()));
            })));

            foreach (var group in results.GroupBy(r => r.slot))
            {
                var winner = message.GetOrAddEncoding(group.Key, 0, static (_, _) => new object());
                Assert.All(group, r => Assert.Same(winner, r.value));
            }
        }
    }

    [Fact]
    public void A_single_variant_costs_less_than_a_table_of_every_slot()
    {
        // Warm up the generic instantiation and the lambda.
        NewMessage().GetOrAddEncoding(2, 0, static (_, _) => "x");

        var messages = Enumerable.Range(0, 100).Select(_ => NewMessage()).ToArray();
        var before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var message in messages)
        {
            message.GetOrAddEncoding(2, 0, static (_, _) => "x");
        }

        var perMessage = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)messages.Length;

        // A table of EncodingSlots references would be 24 + 8 × 16 = 152 bytes.
        Assert.True(perMessage < 24 + (8 * Message.EncodingSlots), $"{perMessage:F0} B per message");
    }
}
