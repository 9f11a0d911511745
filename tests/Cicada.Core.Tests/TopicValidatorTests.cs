using Cicada.Core.Topics;

namespace Cicada.Core.Tests;

/// <summary>Topic names, filters and matching (MQTT 3.1.1 §4.7, §1.5.3).</summary>
public class TopicValidatorTests
{
    private sealed class Subscriber : ISubscriber
    {
        public bool IsConnected => true;
    }

    /// <summary>
    /// Checks one spec example against the reference matcher and against both tries, so the
    /// examples pin down the fast matchers as well as the slow one.
    /// </summary>
    private static void AssertMatch(string filter, string topic, bool expected)
    {
        Assert.True(TopicValidator.IsValidTopicFilter(filter), $"'{filter}' should be a valid filter");
        Assert.True(TopicValidator.IsValidTopicName(topic), $"'{topic}' should be a valid topic name");
        Assert.Equal(expected, TopicValidator.Matches(filter, topic));

        var tree = new SubscriptionTree();
        tree.Add(new Subscription(new Subscriber(), filter, new SubscriptionOptions(QoS.AtMostOnce)));
        var subs = new List<Subscription>();
        tree.Match(topic, subs);
        Assert.Equal(expected ? 1 : 0, subs.Count);

        var retained = new RetainedMessages();
        retained.Set(new Message(topic, new byte[] { 1 }, QoS.AtMostOnce, retain: true));
        var found = new List<Message>();
        retained.Match(filter, found);
        Assert.Equal(expected ? 1 : 0, found.Count);
    }

    [Theory]
    [InlineData("sport/tennis/+")]
    [InlineData("sport/#")]
    [InlineData("#")]
    [InlineData("+")]
    [InlineData("sport/+/player1")]
    public void MQTT_4_7_1_1_wildcards_are_not_allowed_in_topic_names(string name)
    {
        Assert.False(TopicValidator.IsValidTopicName(name));
        Assert.True(TopicValidator.IsValidTopicFilter(name));
    }

    [Theory]
    [InlineData("#", true)]
    [InlineData("sport/tennis/#", true)]
    [InlineData("/#", true)]
    [InlineData("sport/tennis#", false)]
    [InlineData("sport/tennis/#/ranking", false)]
    [InlineData("#/", false)]
    [InlineData("##", false)]
    [InlineData("sport/#/", false)]
    [InlineData("a#/b", false)]
    public void MQTT_4_7_1_2_multi_level_wildcard_is_alone_or_after_a_separator_and_last(string filter, bool valid) =>
        Assert.Equal(valid, TopicValidator.IsValidTopicFilter(filter));

    [Theory]
    [InlineData("+", true)]
    [InlineData("+/tennis/#", true)]
    [InlineData("sport/+/player1", true)]
    [InlineData("/+", true)]
    [InlineData("+/+", true)]
    [InlineData("+/", true)]
    [InlineData("sport+", false)]
    [InlineData("sport/+player1", false)]
    [InlineData("++", false)]
    [InlineData("+a/b", false)]
    public void MQTT_4_7_1_3_single_level_wildcard_occupies_an_entire_level(string filter, bool valid) =>
        Assert.Equal(valid, TopicValidator.IsValidTopicFilter(filter));

    [Fact]
    public void MQTT_4_7_3_1_topic_names_and_filters_are_at_least_one_character()
    {
        Assert.False(TopicValidator.IsValidTopicName(""));
        Assert.False(TopicValidator.IsValidTopicFilter(""));
        Assert.True(TopicValidator.IsValidTopicName("a"));
        Assert.True(TopicValidator.IsValidTopicFilter("a"));
    }

    [Theory]
    [InlineData("a", 65_535, true)]
    [InlineData("a", 65_536, false)]
    [InlineData("é", 32_767, true)]     // 2 bytes each: 65 534
    [InlineData("é", 32_768, false)]
    [InlineData("€", 21_845, true)]     // 3 bytes each: 65 535
    [InlineData("€", 21_846, false)]
    [InlineData("😀", 16_383, true)]    // 4 bytes per surrogate pair: 65 532
    [InlineData("😀", 16_384, false)]
    public void Section_1_5_3_topics_are_at_most_65535_UTF_8_bytes(string unit, int count, bool valid)
    {
        // Other edges (HTTP, CoAP, AMQP) have no two-byte length prefix to bound a topic; an
        // MQTT subscriber could not be sent a longer one.
        var topic = string.Concat(Enumerable.Repeat(unit, count));
        Assert.Equal(valid, TopicValidator.IsValidTopicName(topic));
        Assert.Equal(valid, TopicValidator.IsValidTopicFilter(topic));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("//")]
    [InlineData(" ")]
    [InlineData("/finance")]
    [InlineData("sport/tennis player1")]
    [InlineData("$SYS/broker")]
    [InlineData("température/°C")]
    public void Section_4_7_3_separators_spaces_and_leading_slash_make_valid_topic_names(string name) =>
        Assert.True(TopicValidator.IsValidTopicName(name));

    [Theory]
    [InlineData("a\0b")]
    [InlineData("\0")]
    [InlineData("a/\0")]
    public void MQTT_1_5_3_2_topic_names_and_filters_must_not_contain_U0000(string value)
    {
        Assert.False(TopicValidator.IsValidTopicName(value));
        Assert.False(TopicValidator.IsValidTopicFilter(value));
    }

    // §4.7.1.2 non-normative examples.
    [Theory]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/ranking", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player2", false)]
    [InlineData("sport/tennis/#", "sport/tennis", true)]
    [InlineData("sport/#", "sport", true)]
    [InlineData("sport/#", "sports", false)]
    [InlineData("sport/#", "sport/", true)]
    [InlineData("#", "sport/tennis/player1", true)]
    [InlineData("#", "/", true)]
    public void Section_4_7_1_2_multi_level_wildcard_matches_the_parent_and_any_number_of_child_levels(string filter, string topic, bool expected) =>
        AssertMatch(filter, topic, expected);

    // §4.7.1.3 non-normative examples.
    [Theory]
    [InlineData("sport/tennis/+", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player2", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player1/ranking", false)]
    [InlineData("sport/+", "sport", false)]
    [InlineData("sport/+", "sport/", true)]
    [InlineData("+/tennis/#", "sport/tennis", true)]
    [InlineData("+/tennis/#", "sport/tennis/player1/ranking", true)]
    [InlineData("sport/+/player1", "sport/tennis/player1", true)]
    [InlineData("sport/+/player1", "sport/tennis/player2", false)]
    [InlineData("+", "sport", true)]
    [InlineData("+", "sport/tennis", false)]
    public void Section_4_7_1_3_single_level_wildcard_matches_exactly_one_level(string filter, string topic, bool expected) =>
        AssertMatch(filter, topic, expected);

    [Theory]
    [InlineData("+/+", "/finance", true)]
    [InlineData("/+", "/finance", true)]
    [InlineData("+", "/finance", false)]
    [InlineData("+/+", "/", true)]
    [InlineData("a/+/b", "a//b", true)]
    [InlineData("+", "/", false)]
    public void Section_4_7_1_3_single_level_wildcard_matches_empty_levels(string filter, string topic, bool expected) =>
        AssertMatch(filter, topic, expected);

    // §4.7.2 non-normative examples.
    [Theory]
    [InlineData("#", "$SYS/monitor/Clients", false)]
    [InlineData("+/monitor/Clients", "$SYS/monitor/Clients", false)]
    [InlineData("+", "$SYS", false)]
    [InlineData("#", "$", false)]
    [InlineData("+/#", "$SYS/broker", false)]
    [InlineData("$SYS/#", "$SYS/monitor/Clients", true)]
    [InlineData("$SYS/#", "$SYS", true)]
    [InlineData("$SYS/monitor/+", "$SYS/monitor/Clients", true)]
    [InlineData("a/+", "a/$b", true)]
    [InlineData("a/#", "a/$b/c", true)]
    [InlineData("#", "a$/b", true)]
    public void MQTT_4_7_2_1_leading_wildcard_does_not_match_dollar_topics(string filter, string topic, bool expected) =>
        AssertMatch(filter, topic, expected);

    [Theory]
    [InlineData("ACCOUNTS", "Accounts", false)]
    [InlineData("Accounts", "Accounts", true)]
    [InlineData("sport/tennis", "sport/tennis/", false)]
    [InlineData("/finance", "finance", false)]
    [InlineData("sport/tennis player1", "sport/tennis player1", true)]
    public void Section_4_7_3_topics_are_case_sensitive_and_every_level_counts(string filter, string topic, bool expected) =>
        AssertMatch(filter, topic, expected);
}
