using BenchmarkDotNet.Attributes;
using Cicada.Core;
using Cicada.Core.Topics;

namespace Cicada.Microbench;

/// <summary>Topic matching cost must follow topic depth and matches, not the number of subscriptions.</summary>
[MemoryDiagnoser]
public class TopicMatchBenchmarks
{
    private sealed class Subscriber : ISubscriber
    {
        public bool IsConnected => true;
    }

    private readonly List<Subscription> _results = [];
    private SubscriptionTree _tree = null!;

    [Params(1_000, 100_000)]
    public int Subscriptions { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _tree = new SubscriptionTree();
        for (var i = 0; i < Subscriptions; i++)
        {
            // Mostly exact device topics, a few wildcards, as a home-automation broker sees them.
            var filter = (i % 100) switch
            {
                0 => $"home/room{i % 50}/+/temperature",
                1 => $"home/room{i % 50}/#",
                _ => $"home/room{i % 50}/device{i}/temperature",
            };
            _tree.Add(new Subscription(new Subscriber(), filter, new SubscriptionOptions(QoS.AtMostOnce)));
        }
    }

    [Benchmark]
    public int MatchExactTopic()
    {
        _results.Clear();
        _tree.Match("home/room7/device507/temperature", _results);
        return _results.Count;
    }
}
