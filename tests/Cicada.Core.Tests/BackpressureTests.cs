using Cicada.Core.Sessions;
using Cicada.Core.Topics;

namespace Cicada.Core.Tests;

/// <summary>
/// Broker:OverflowPolicy = backpressure (DESIGN.md "Hot-path rules": bounded queues, slow consumers
/// never stall publishers): a publish into a queue above its high-water mark (half the limit) waits
/// until a draining subscriber has brought it down to its low-water mark (a quarter), or the bounded
/// wait ran out; a subscriber that took nothing during a wait is stuck and gets drop-oldest. The
/// clock is fake: a wait "runs out" only when a test moves it.
/// </summary>
public sealed class BackpressureTests
{
    private const int Limit = 8; // high-water 4, low-water 2
    private static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);

    private static Task<ClockedBroker> StartAsync(string policy = OverflowPolicies.Backpressure) =>
        ClockedBroker.StartAsync(new BrokerOptions
        {
            MaxQueuedMessages = Limit,
            OverflowPolicy = policy,
            BackpressureMaxWaitMilliseconds = (int)MaxWait.TotalMilliseconds,
        });

    private static string Topic() => "bp/" + Guid.NewGuid().ToString("N")[..8];

    private static Task Publish(ClockedBroker clocked, string topic, int n, QoS qos = QoS.AtMostOnce, string? origin = null) =>
        clocked.Broker.PublishAsync(TestBroker.Message(topic, $"m{n}", qos, origin: origin));

    /// <summary>Publishes until one has to wait; returns the waiting task (the queue is then at its high-water mark).</summary>
    private static Task FillToHighWater(ClockedBroker clocked, string topic, ref int n, QoS qos = QoS.AtMostOnce)
    {
        while (true)
        {
            var task = Publish(clocked, topic, n++, qos);
            if (!task.IsCompleted)
            {
                return task;
            }

            Assert.True(n <= Limit, "No publish waited although the queue passed its high-water mark.");
        }
    }

    private static bool TakeOne(ClockedBroker clocked, Session session) =>
        session.TryTakeNext(int.MaxValue, clocked.Now, out _, out _);

    [Fact]
    public async Task Publisher_waits_for_a_draining_subscriber_above_high_water_and_nothing_is_dropped()
    {
        using var clocked = await StartAsync();
        var topic = Topic();
        var session = (await clocked.WatchAsync(topic, QoS.AtMostOnce)).Session;
        var n = 0;

        var waiting = FillToHighWater(clocked, topic, ref n);
        Assert.Equal(Limit / 2, n);
        var alsoWaiting = Publish(clocked, topic, n++);
        Assert.False(alsoWaiting.IsCompleted);

        // Above low water the gate stays shut; at low water it opens for every waiting publisher.
        Assert.True(TakeOne(clocked, session));
        Assert.True(TakeOne(clocked, session));
        Assert.False(waiting.IsCompleted);
        Assert.True(TakeOne(clocked, session));
        await waiting.WaitAsync(Generous);
        await alsoWaiting.WaitAsync(Generous);

        Assert.Equal(0, session.Dropped);
        Assert.Equal(["m3", "m4"], clocked.Drain(session).Select(d => d.Text()));
    }

    [Fact]
    public async Task Stuck_subscriber_holds_a_publisher_at_most_one_bounded_wait_then_drops_the_oldest()
    {
        using var clocked = await StartAsync();
        var topic = Topic();
        var session = (await clocked.WatchAsync(topic, QoS.AtMostOnce)).Session;
        var n = 0;

        var waiting = FillToHighWater(clocked, topic, ref n);
        clocked.Advance(MaxWait - TimeSpan.FromMilliseconds(1));
        Assert.False(waiting.IsCompleted);
        clocked.Advance(TimeSpan.FromMilliseconds(1));
        await waiting.WaitAsync(Generous);

        // Took nothing during the wait: stuck. Publishers no longer wait; the bounded queue drops the oldest.
        for (var i = 0; i < 3 * Limit; i++)
        {
            Assert.True(Publish(clocked, topic, n++).IsCompleted, $"Publish {n} waited for a stuck subscriber.");
        }

        Assert.Equal(Limit, session.PendingCount);
        Assert.Equal(n - Limit, session.Dropped);
        Assert.Equal($"m{n - 1}", clocked.Drain(session)[^1].Text());
    }

    [Fact]
    public async Task Slow_subscriber_that_took_something_during_the_wait_keeps_pacing_publishers()
    {
        using var clocked = await StartAsync();
        var topic = Topic();
        var session = (await clocked.WatchAsync(topic, QoS.AtMostOnce)).Session;
        var n = 0;

        var waiting = FillToHighWater(clocked, topic, ref n);
        Assert.True(TakeOne(clocked, session)); // progress, but still above low water
        clocked.Advance(MaxWait);
        await waiting.WaitAsync(Generous);

        // The wait ran out, but the subscriber is draining: the next publish above high water waits again.
        Assert.False(Publish(clocked, topic, n++).IsCompleted);
        Assert.Equal(0, session.Dropped);
    }

    [Fact]
    public async Task Stuck_subscriber_that_takes_again_paces_publishers_again()
    {
        using var clocked = await StartAsync();
        var topic = Topic();
        var session = (await clocked.WatchAsync(topic, QoS.AtMostOnce)).Session;
        var n = 0;

        var waiting = FillToHighWater(clocked, topic, ref n);
        clocked.Advance(MaxWait);
        await waiting.WaitAsync(Generous);
        Assert.True(Publish(clocked, topic, n++).IsCompleted);

        Assert.True(TakeOne(clocked, session));
        Assert.False(Publish(clocked, topic, n++).IsCompleted);
    }

    [Fact]
    public async Task Drop_oldest_policy_never_makes_a_publisher_wait()
    {
        using var clocked = await StartAsync(OverflowPolicies.DropOldest);
        var topic = Topic();
        var session = (await clocked.WatchAsync(topic, QoS.AtMostOnce)).Session;

        for (var n = 0; n < 3 * Limit; n++)
        {
            Assert.True(Publish(clocked, topic, n).IsCompleted);
        }

        Assert.Equal(Limit, session.PendingCount);
        Assert.Equal(2 * Limit, session.Dropped);
    }

    [Fact]
    public async Task Disconnect_releases_publishers_waiting_for_that_subscriber()
    {
        using var clocked = await StartAsync();
        var topic = Topic();
        var link = await clocked.WatchAsync(topic, QoS.AtMostOnce);
        var n = 0;

        var waiting = FillToHighWater(clocked, topic, ref n);
        clocked.Broker.Disconnect(link, publishWill: false);

        await waiting.WaitAsync(Generous);
    }

    [Fact]
    public async Task Own_subscription_never_slows_its_publisher()
    {
        using var clocked = await StartAsync();
        var topic = Topic();
        var link = await clocked.WatchAsync(topic, QoS.AtMostOnce, clientId: "loopback");

        for (var n = 0; n < 3 * Limit; n++)
        {
            Assert.True(Publish(clocked, topic, n, origin: "loopback").IsCompleted);
        }

        Assert.Equal(2 * Limit, link.Session.Dropped);
    }

    [Fact]
    public async Task Offline_persistent_session_queues_QoS_1_without_making_publishers_wait_MQTT_3_1_2_5()
    {
        using var clocked = await StartAsync();
        var topic = Topic();
        var link = clocked.Connect("offline", sessionExpiry: 3600, cleanStart: true).Link;
        await clocked.Broker.SubscribeAsync(link, topic, new SubscriptionOptions(QoS.AtLeastOnce));
        clocked.Broker.Disconnect(link, publishWill: false);

        for (var n = 0; n < Limit; n++)
        {
            await Publish(clocked, topic, n, QoS.AtLeastOnce).WaitAsync(Generous);
        }

        Assert.True(clocked.Broker.TryGetSession("offline", out var session));
        Assert.Equal(Limit, session!.PendingCount);
        Assert.Equal(0, session.Dropped);
    }

    [Fact]
    public async Task QoS_1_publish_is_acknowledgeable_once_durable_and_paced_like_QoS_0_MQTT_4_3_2_2()
    {
        using var clocked = await StartAsync();
        var topic = Topic();
        var session = (await clocked.WatchAsync(topic, QoS.AtLeastOnce)).Session;
        var n = 0;
        _ = FillToHighWater(clocked, topic, ref n, QoS.AtLeastOnce);

        // The split form: durable at once (nothing persistent), but the publisher is asked to wait.
        var durable = clocked.Broker.PublishPacedAsync(TestBroker.Message(topic, $"m{n++}", QoS.AtLeastOnce), out var backpressure);
        await durable.WaitAsync(Generous);
        Assert.NotNull(backpressure);
        Assert.False(backpressure.IsCompleted);

        var taken = clocked.Drain(session);
        await backpressure.WaitAsync(Generous);
        Assert.Equal(Enumerable.Range(0, n).Select(i => $"m{i}"), taken.Select(d => d.Text()));
        Assert.All(taken, d => Assert.Equal(QoS.AtLeastOnce, d.Qos));
        Assert.Equal(0, session.Dropped);
    }
}
