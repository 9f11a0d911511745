using Cicada.Core.Sessions;
using Cicada.Core.Topics;
using Microsoft.Extensions.Time.Testing;

namespace Cicada.Core.Tests;

/// <summary>
/// A broker on a fake clock, driven as the host's heartbeat would drive it: time moves only when
/// a test says so, and <see cref="Broker.OnHeartbeat"/> is called with the new time.
/// </summary>
internal sealed class ClockedBroker : IDisposable
{
    private ClockedBroker(TestBroker inner, FakeTimeProvider time)
    {
        Inner = inner;
        Time = time;
    }

    public TestBroker Inner { get; }

    public Broker Broker => Inner.Broker;

    public FakeTimeProvider Time { get; }

    public DateTimeOffset Now => Time.GetUtcNow();

    public static async Task<ClockedBroker> StartAsync(BrokerOptions? options = null)
    {
        // A fixed, arbitrary start: nothing may depend on the machine's clock.
        var time = new FakeTimeProvider(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero));
        return new ClockedBroker(await TestBroker.StartAsync(options: options, time: time), time);
    }

    /// <summary>MQTT 5 CONNECT: Clean Start and a Session Expiry Interval (0 = ends with the connection).</summary>
    public ConnectResult Connect(string clientId, uint sessionExpiry, bool cleanStart = false, Will? will = null, FakeConnection? connection = null) =>
        Broker.Connect(clientId, cleanStart, sessionExpiry, connection ?? new FakeConnection(), will, "test", remote: null);

    /// <summary>A clean, non-persistent session subscribed to <paramref name="filter"/>, to watch what is published.</summary>
    public async Task<ClientLink> WatchAsync(string filter, QoS qos = QoS.AtLeastOnce, string? clientId = null)
    {
        var link = Connect(clientId ?? "watch-" + Guid.NewGuid().ToString("N")[..8], 0, cleanStart: true).Link;
        await Broker.SubscribeAsync(link, filter, new SubscriptionOptions(qos));
        return link;
    }

    /// <summary>Moves the clock and runs one heartbeat at the new time.</summary>
    public void Advance(TimeSpan by)
    {
        Time.Advance(by);
        Broker.OnHeartbeat(Now);
    }

    public void AdvanceSeconds(double seconds) => Advance(TimeSpan.FromSeconds(seconds));

    public bool HasSession(string clientId) => Broker.TryGetSession(clientId, out _);

    /// <summary>Takes every deliverable message at the fake clock's time.</summary>
    public List<Delivery> Drain(Session session)
    {
        var taken = new List<Delivery>();
        while (session.TryTakeNext(int.MaxValue, Now, out var delivery, out _))
        {
            taken.Add(delivery);
        }

        return taken;
    }

    public void Dispose() => Inner.Dispose();
}
