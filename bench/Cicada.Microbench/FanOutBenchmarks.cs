using BenchmarkDotNet.Attributes;
using Cicada.Core;
using Cicada.Core.Sessions;
using Cicada.Core.Storage;
using Cicada.Core.Topics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cicada.Microbench;

/// <summary>Routing one message to many subscribers and draining their queues, as an edge does.</summary>
[MemoryDiagnoser]
public class FanOutBenchmarks
{
    private sealed class IdleConnection : IClientConnection
    {
        public void OnDeliveriesPending()
        {
        }

        public void Close(CloseReason reason)
        {
        }
    }

    private readonly List<Session> _sessions = [];
    private Broker _broker = null!;
    private Message _message = null!;

    [Params(1_000)]
    public int Subscribers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _broker = new Broker(new MemoryBrokerStore(), Options.Create(new BrokerOptions()), new CicadaMetrics(), NullLogger<Broker>.Instance);
        _broker.LoadAsync(CancellationToken.None).GetAwaiter().GetResult();
        for (var i = 0; i < Subscribers; i++)
        {
            var link = _broker.Connect($"s{i}", cleanStart: true, persistent: false, new IdleConnection(), null, "bench", null).Link;
            _broker.SubscribeAsync(link, "fan/out", new SubscriptionOptions(QoS.AtMostOnce)).GetAwaiter().GetResult();
            _sessions.Add(link.Session);
        }

        _message = new Message("fan/out", new byte[64], QoS.AtMostOnce, retain: false);
    }

    [Benchmark]
    public int PublishAndDrain()
    {
        _broker.PublishAsync(_message).GetAwaiter().GetResult();
        var now = DateTimeOffset.UtcNow;
        var taken = 0;
        foreach (var session in _sessions)
        {
            while (session.TryTakeNext(100, now, out _, out _))
            {
                taken++;
            }
        }

        return taken;
    }
}
