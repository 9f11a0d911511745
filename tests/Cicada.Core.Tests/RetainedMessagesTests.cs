using System.Collections;
using System.Reflection;
using Cicada.Core.Topics;
using CsCheck;

namespace Cicada.Core.Tests;

/// <summary>The retained-message trie (MQTT-3.3.1-5..11), checked against <see cref="TopicValidator.Matches"/>.</summary>
public class RetainedMessagesTests
{
    private static Message Retained(string topic, string payload = "x") =>
        TestBroker.Message(topic, payload, QoS.AtLeastOnce, retain: true);

    private static List<Message> Match(RetainedMessages retained, string filter)
    {
        var results = new List<Message>();
        retained.Match(filter, results);
        return results;
    }

    [Fact]
    public void Property_match_returns_exactly_the_retained_topics_the_reference_matcher_accepts()
    {
        var gen = Gen.Select(TopicGen.Topic.Array[0, 30], Gen.Int[0, 100].Array[0, 15], TopicGen.Filter.Array[1, 12]);

        gen.Sample((topics, removals, filters) =>
        {
            var retained = new RetainedMessages();
            var model = new Dictionary<string, Message>(StringComparer.Ordinal);
            foreach (var topic in topics)
            {
                var message = Retained(topic, model.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
                retained.Set(message);
                model[topic] = message; // one retained message per topic: the last one wins
            }

            Check(retained, model, filters);

            foreach (var r in removals)
            {
                var topic = topics.Length > 0 && r % 4 != 0 ? topics[r % topics.Length] : "zz/" + r;
                Assert.Equal(model.Remove(topic), retained.Remove(topic));
            }

            Check(retained, model, filters);

            foreach (var topic in model.Keys.ToList())
            {
                Assert.True(retained.Remove(topic));
                model.Remove(topic);
            }

            Check(retained, model, filters);
            Assert.Equal(0, RootChildren(retained)); // emptied levels are pruned, not kept forever
        }, iter: 3000, threads: 1);
    }

    /// <summary>Levels under the root, through reflection: pruning is invisible to the public surface.</summary>
    private static int RootChildren(RetainedMessages retained)
    {
        var root = typeof(RetainedMessages).GetField("_root", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(retained)!;
        return ((ICollection)root.GetType().GetField("Children")!.GetValue(root)!).Count;
    }

    private static void Check(RetainedMessages retained, Dictionary<string, Message> model, string[] filters)
    {
        Assert.Equal(model.Count, retained.Count);
        Assert.Equal(model.Count, retained.All().Count);
        foreach (var (topic, message) in model)
        {
            Assert.Same(message, retained.Get(topic));
        }

        foreach (var filter in filters)
        {
            var actual = Match(retained, filter);
            var expected = model.Values.Where(m => TopicValidator.Matches(filter, m.Topic)).ToList();

            // Reference equality as a multiset: each retained message at most once, and the latest one.
            Assert.Equal(expected.Count, actual.Count);
            Assert.All(expected, e => Assert.Contains(actual, a => ReferenceEquals(a, e)));
        }
    }

    [Fact]
    public void MQTT_3_3_1_5_a_new_retained_message_replaces_the_previous_one_of_its_topic()
    {
        var retained = new RetainedMessages();
        retained.Set(Retained("a/b", "first"));
        var second = Retained("a/b", "second");
        retained.Set(second);

        Assert.Equal(1, retained.Count);
        Assert.Same(second, retained.Get("a/b"));
        Assert.Same(second, Assert.Single(Match(retained, "a/#")));
    }

    [Fact]
    public void Remove_prunes_so_a_parent_topic_is_unaffected()
    {
        var retained = new RetainedMessages();
        var parent = Retained("a");
        retained.Set(parent);
        retained.Set(Retained("a/b/c"));

        Assert.True(retained.Remove("a/b/c"));
        Assert.False(retained.Remove("a/b/c"));
        Assert.False(retained.Remove("a/b")); // an inner node without a message of its own
        Assert.Null(retained.Get("a/b/c"));
        Assert.Same(parent, retained.Get("a"));
        Assert.Same(parent, Assert.Single(Match(retained, "#")));
        Assert.Equal(1, retained.Count);
    }

    [Fact]
    public void Get_of_an_inner_level_without_a_message_is_null()
    {
        var retained = new RetainedMessages();
        retained.Set(Retained("a/b"));

        Assert.Null(retained.Get("a"));
        Assert.Null(retained.Get("a/b/c"));
        Assert.Empty(Match(retained, "a"));
    }

    [Fact]
    public void MQTT_4_7_2_1_hash_and_plus_do_not_return_dollar_topics()
    {
        var retained = new RetainedMessages();
        retained.Set(Retained("$SYS/uptime"));
        retained.Set(Retained("$"));
        var normal = Retained("sys/uptime");
        retained.Set(normal);

        Assert.Same(normal, Assert.Single(Match(retained, "#")));
        Assert.Same(normal, Assert.Single(Match(retained, "+/uptime")));
        Assert.Single(Match(retained, "$SYS/#"));
        Assert.Single(Match(retained, "$SYS/+"));
        Assert.Single(Match(retained, "$"));
    }

    [Fact]
    public void Section_4_7_1_2_hash_returns_the_parent_level_and_every_descendant()
    {
        var retained = new RetainedMessages();
        foreach (var t in new[] { "sport", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/score", "sports" })
        {
            retained.Set(Retained(t));
        }

        Assert.Equal(
            ["sport/tennis", "sport/tennis/player1", "sport/tennis/player1/score"],
            Match(retained, "sport/tennis/#").Select(m => m.Topic).Order(StringComparer.Ordinal));
        Assert.Equal(4, Match(retained, "sport/#").Count);
        Assert.Equal(5, Match(retained, "#").Count);
    }

    [Fact]
    public void Section_4_7_1_3_plus_returns_empty_levels_too()
    {
        var retained = new RetainedMessages();
        var finance = Retained("/finance");
        retained.Set(finance);
        retained.Set(Retained("finance"));

        Assert.Same(finance, Assert.Single(Match(retained, "+/+")));
        Assert.Same(finance, Assert.Single(Match(retained, "/+")));
        Assert.Single(Match(retained, "+"));
    }
}
