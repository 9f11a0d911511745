using Cicada.Core.Sessions;
using Cicada.Core.Storage;
using Cicada.Core.Topics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cicada.Core.Tests;

/// <summary>An edge's connection as Core sees it: records the wake-ups and closes it is asked for.</summary>
internal sealed class FakeConnection : IClientConnection
{
    private int _pending;

    public int PendingCalls => Volatile.Read(ref _pending);

    public List<CloseReason> Closes { get; } = [];

    public void OnDeliveriesPending() => Interlocked.Increment(ref _pending);

    public void Close(CloseReason reason)
    {
        lock (Closes)
        {
            Closes.Add(reason);
        }
    }
}

/// <summary>A broker over a <see cref="MemoryBrokerStore"/>, with helpers that act as an edge would.</summary>
internal sealed class TestBroker : IDisposable
{
    private readonly CicadaMetrics _metrics = new();

    private TestBroker(MemoryBrokerStore store, BrokerOptions options, TimeProvider? time)
    {
        Store = store;
        Broker = new Broker(store, Options.Create(options), _metrics, NullLogger<Broker>.Instance, time);
    }

    public MemoryBrokerStore Store { get; }

    public Broker Broker { get; }

    public static async Task<TestBroker> StartAsync(MemoryBrokerStore? store = null, BrokerOptions? options = null, TimeProvider? time = null)
    {
        var broker = new TestBroker(store ?? new MemoryBrokerStore(), options ?? new BrokerOptions(), time);
        await broker.Broker.LoadAsync(CancellationToken.None);
        return broker;
    }

    /// <summary>MQTT 3.1.1 semantics: CleanSession = 1 is a clean start with a non-persistent session.</summary>
    public ConnectResult Connect(string clientId, bool cleanSession, FakeConnection? connection = null, Will? will = null) =>
        Broker.Connect(clientId, cleanStart: cleanSession, persistent: !cleanSession, connection ?? new FakeConnection(), will,
            "test", remote: null);

    public async Task<ClientLink> SubscribeAsync(string clientId, string filter, QoS qos, bool cleanSession = true)
    {
        var link = Connect(clientId, cleanSession).Link;
        await Broker.SubscribeAsync(link, filter, new SubscriptionOptions(qos));
        return link;
    }

    public Task PublishAsync(string topic, string payload, QoS qos = QoS.AtMostOnce, bool retain = false, string? origin = null) =>
        Broker.PublishAsync(Message(topic, payload, qos, retain, origin));

    public static Message Message(string topic, string payload, QoS qos = QoS.AtMostOnce, bool retain = false, string? origin = null,
        DateTimeOffset? expiresAt = null) =>
        new(topic, System.Text.Encoding.UTF8.GetBytes(payload), qos, retain, originClientId: origin, expiresAt: expiresAt);

    public void Dispose() => _metrics.Dispose();
}

internal static class SessionExtensions
{
    /// <summary>Takes every deliverable message as an edge would, with no in-flight limit.</summary>
    public static List<(Delivery Delivery, int Id)> Drain(this Session session, int maxInflight = int.MaxValue)
    {
        var taken = new List<(Delivery, int)>();
        while (session.TryTakeNext(maxInflight, DateTimeOffset.UtcNow, out var delivery, out var id))
        {
            taken.Add((delivery, id));
        }

        return taken;
    }

    public static string Text(this Delivery delivery) => System.Text.Encoding.UTF8.GetString(delivery.Message.Payload.Span);
}
