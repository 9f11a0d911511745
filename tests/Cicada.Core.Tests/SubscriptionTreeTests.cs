using System.Collections;
using System.Reflection;
using Cicada.Core.Topics;
using CsCheck;

namespace Cicada.Core.Tests;

/// <summary>The subscription trie (MQTT-4.7), checked against <see cref="TopicValidator.Matches"/>.</summary>
public class SubscriptionTreeTests
{
    private sealed class Subscriber(int id) : ISubscriber
    {
        public int Id { get; } = id;

        public bool IsConnected => true;

        public override string ToString() => $"s{Id}";
    }

    private static readonly SubscriptionOptions Qos0 = new(QoS.AtMostOnce);

    private static List<Subscription> Match(SubscriptionTree tree, string topic)
    {
        var results = new List<Subscription>();
        tree.Match(topic, results);
        return results;
    }

    /// <summary>A sorted multiset of (subscriber, filter): duplicates in a match show up as extra entries.</summary>
    private static List<string> Keys(IEnumerable<Subscription> subs) =>
        [.. subs.Select(s => $"{s.Subscriber}:{s.Filter}").Order(StringComparer.Ordinal)];

    [Fact]
    public void Property_tree_matches_exactly_what_the_reference_matcher_says_including_after_removals()
    {
        var gen = Gen.Select(
            Gen.Select(Gen.Int[0, 3], TopicGen.Filter).Array[0, 40],
            TopicGen.Topic.Array[1, 12],
            Gen.Int[0, 1000].Array[0, 40]);

        gen.Sample((adds, topics, removals) =>
        {
            var subscribers = Enumerable.Range(0, 4).Select(i => new Subscriber(i)).ToArray();
            var tree = new SubscriptionTree();
            var model = new Dictionary<(int, string), Subscription>();
            foreach (var (who, filter) in adds)
            {
                var sub = new Subscription(subscribers[who], filter, Qos0);
                Assert.Equal(!model.ContainsKey((who, filter)), tree.Add(sub));
                model[(who, filter)] = sub; // same subscriber and filter: replaced (MQTT-3.8.4-3)
            }

            Check(tree, model, topics);

            // Remove a random mix of present and absent subscriptions.
            foreach (var r in removals)
            {
                var (who, filter) = adds.Length > 0 && r % 3 != 0 ? adds[r % adds.Length] : (r % 4, "x/" + r);
                Assert.Equal(model.Remove((who, filter)), tree.Remove(subscribers[who], filter));
            }

            Check(tree, model, topics);

            foreach (var key in model.Keys.ToList())
            {
                Assert.True(tree.Remove(subscribers[key.Item1], key.Item2));
                model.Remove(key);
            }

            Check(tree, model, topics);
            Assert.Equal(0, NodeCount(tree)); // everything pruned back to the root
        }, iter: 3000, threads: 1);
    }

    private static void Check(SubscriptionTree tree, Dictionary<(int, string), Subscription> model, string[] topics)
    {
        Assert.Equal(model.Count, tree.Count);
        foreach (var topic in topics)
        {
            var actual = Match(tree, topic);
            var expected = model.Values.Where(s => TopicValidator.Matches(s.Filter, topic)).ToList();
            Assert.Equal(Keys(expected), Keys(actual));

            // The current subscription object, not a replaced one.
            foreach (var s in actual)
            {
                Assert.Same(model[(((Subscriber)s.Subscriber).Id, s.Filter)], s);
            }
        }
    }

    /// <summary>
    /// Nodes below the root, read through reflection: the public surface cannot tell a pruned
    /// trie from one that keeps empty nodes forever (a memory leak under churn).
    /// </summary>
    private static int NodeCount(SubscriptionTree tree)
    {
        var root = typeof(SubscriptionTree).GetField("_root", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(tree)!;
        return CountBelow(root);

        static int CountBelow(object node)
        {
            var type = node.GetType();
            var children = ((IDictionary)type.GetField("Children")!.GetValue(node)!).Values.Cast<object>().ToList();
            foreach (var name in new[] { "Plus", "Hash" })
            {
                if (type.GetField(name)!.GetValue(node) is { } special)
                {
                    children.Add(special);
                }
            }

            return children.Sum(c => 1 + CountBelow(c));
        }
    }

    [Fact]
    public void MQTT_3_8_4_3_subscribing_again_to_the_same_filter_replaces_the_subscription()
    {
        var tree = new SubscriptionTree();
        var s = new Subscriber(1);
        Assert.True(tree.Add(new Subscription(s, "a/b", Qos0)));
        var replacement = new Subscription(s, "a/b", new SubscriptionOptions(QoS.ExactlyOnce));
        Assert.False(tree.Add(replacement));

        Assert.Equal(1, tree.Count);
        Assert.Same(replacement, Assert.Single(Match(tree, "a/b")));
    }

    [Fact]
    public void Different_subscribers_to_one_filter_are_all_matched()
    {
        var tree = new SubscriptionTree();
        for (var i = 0; i < 5; i++)
        {
            tree.Add(new Subscription(new Subscriber(i), "a/+", Qos0));
        }

        Assert.Equal(5, Match(tree, "a/x").Count);
        Assert.Equal(5, tree.Count);
    }

    [Fact]
    public void One_subscriber_with_overlapping_filters_gets_one_match_per_filter()
    {
        // The tree reports every matching subscription; collapsing them into one delivery is
        // the router's job (MQTT-3.3.5-1), tested in BrokerRoutingTests.
        var tree = new SubscriptionTree();
        var s = new Subscriber(1);
        foreach (var f in new[] { "#", "a/#", "a/+", "a/b", "+/b", "+/+" })
        {
            tree.Add(new Subscription(s, f, Qos0));
        }

        Assert.Equal(6, Match(tree, "a/b").Count);
        Assert.Equal(2, Match(tree, "a").Count); // "#" and "a/#"
    }

    [Fact]
    public void MQTT_4_7_2_1_leading_wildcard_does_not_match_dollar_topics()
    {
        var tree = new SubscriptionTree();
        var s = new Subscriber(1);
        foreach (var f in new[] { "#", "+/monitor/Clients", "+/#", "$SYS/#", "$SYS/monitor/+" })
        {
            tree.Add(new Subscription(s, f, Qos0));
        }

        Assert.Equal(["$SYS/#", "$SYS/monitor/+"], Match(tree, "$SYS/monitor/Clients").Select(m => m.Filter).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Removing_an_absent_subscription_changes_nothing()
    {
        var tree = new SubscriptionTree();
        var s1 = new Subscriber(1);
        var s2 = new Subscriber(2);
        tree.Add(new Subscription(s1, "a/+/c", Qos0));

        Assert.False(tree.Remove(s2, "a/+/c"));
        Assert.False(tree.Remove(s1, "a/+"));
        Assert.False(tree.Remove(s1, "a/+/c/#"));
        Assert.False(tree.Remove(s1, "a/b/c"));
        Assert.Equal(1, tree.Count);
        Assert.Single(Match(tree, "a/b/c"));
    }

    [Fact]
    public void Removing_a_leaf_keeps_subscriptions_on_the_path_above_it()
    {
        var tree = new SubscriptionTree();
        var s = new Subscriber(1);
        tree.Add(new Subscription(s, "a", Qos0));
        tree.Add(new Subscription(s, "a/b/c", Qos0));
        tree.Add(new Subscription(s, "a/#", Qos0));

        Assert.True(tree.Remove(s, "a/b/c"));
        Assert.Equal(2, tree.Count);
        Assert.Equal(2, Match(tree, "a").Count);
        Assert.Single(Match(tree, "a/b/c"));
        Assert.True(tree.Remove(s, "a/#"));
        Assert.Single(Match(tree, "a"));
        Assert.Empty(Match(tree, "a/b"));
        Assert.Equal(1, NodeCount(tree));
    }

    [Fact]
    public async Task Match_is_safe_while_another_thread_adds_and_removes()
    {
        // Readers take no lock (§ hot-path rules); a reader racing writers must neither throw
        // nor miss a subscription that is present the whole time.
        var tree = new SubscriptionTree();
        var stable = new Subscriber(0);
        tree.Add(new Subscription(stable, "a/+/c", Qos0));
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            var churn = new Subscriber(1);
            var i = 0;
            while (!stop.IsCancellationRequested)
            {
                var filter = (i++ % 3) switch { 0 => "a/b/c", 1 => "a/+/#", _ => "a/b/+" };
                tree.Add(new Subscription(churn, filter, Qos0));
                tree.Remove(churn, filter);
            }
        });

        var results = new List<Subscription>();
        for (var n = 0; n < 20_000; n++)
        {
            results.Clear();
            tree.Match("a/b/c", results);
            Assert.Contains(results, r => ReferenceEquals(r.Subscriber, stable));
        }

        stop.Cancel();
        await writer;
        Assert.Equal(1, tree.Count);
    }
}
