using Cicada.Core.Sessions;

namespace Cicada.Core.Tests;

/// <summary>
/// Fan-out by reference (DESIGN.md hot-path rules): routing one message to N subscribers must not
/// allocate per subscriber. Measured in bytes, not time, so the test is deterministic.
/// </summary>
public class AllocationBudgetTests
{
    private static async Task<double> BytesPerPublishAsync(int subscribers, QoS qos)
    {
        using var broker = await TestBroker.StartAsync();
        var sessions = new List<Session>();
        for (var i = 0; i < subscribers; i++)
        {
            sessions.Add((await broker.SubscribeAsync($"sub-{i}", "fan/out/topic", qos)).Session);
        }

        var payload = new byte[64];
        var message = new Message("fan/out/topic", payload, qos, retain: false);

        void Round()
        {
            broker.Broker.PublishAsync(message).GetAwaiter().GetResult();
            foreach (var session in sessions)
            {
                while (session.TryTakeNext(int.MaxValue, DateTimeOffset.MaxValue.AddDays(-1), out _, out var id))
                {
                    if (id != 0)
                    {
                        session.Complete(id);
                    }
                }
            }
        }

        // Warm up: queues, scratch lists and dictionaries reach their steady size.
        for (var i = 0; i < 50; i++)
        {
            Round();
        }

        const int Rounds = 200;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Rounds; i++)
        {
            Round();
        }

        return (GC.GetAllocatedBytesForCurrentThread() - before) / (double)Rounds;
    }

    [Theory]
    [InlineData(QoS.AtMostOnce)]
    [InlineData(QoS.AtLeastOnce)]
    public async Task Fan_out_allocates_nothing_per_subscriber(QoS qos)
    {
        var few = await BytesPerPublishAsync(10, qos);
        var many = await BytesPerPublishAsync(1_000, qos);

        // 990 more subscribers may cost less than one byte each per publish.
        Assert.True(many - few < 990, $"{few:F0} B/publish with 10 subscribers, {many:F0} B/publish with 1,000");
    }
}
