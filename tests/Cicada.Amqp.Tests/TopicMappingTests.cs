using Cicada.Amqp.Routing;

namespace Cicada.Amqp.Tests;

/// <summary>amq.topic ↔ the MQTT topic space (DESIGN.md protocol mapping; RabbitMQ MQTT plugin's rules).</summary>
public sealed class TopicMappingTests
{
    [Theory]
    [InlineData("home.kitchen.temp", "home/kitchen/temp")]
    [InlineData("a/b.c", "a.b/c")] // '.' inside an MQTT level ↔ '/' inside an AMQP word
    [InlineData("a..b", "a//b")]
    public void RoutingKey_MapsToTopic_AndBack(string routingKey, string topic)
    {
        Assert.Equal(topic, TopicMapping.ToTopic(routingKey));
        Assert.Equal(routingKey, TopicMapping.ToRoutingKey(topic));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a.+")]
    [InlineData("a.#")]
    public void RoutingKey_ThatIsNoTopicName_IsNotInTheTopicSpace(string routingKey)
    {
        Assert.Null(TopicMapping.ToTopic(routingKey));
    }

    [Theory]
    [InlineData("home.*.temp", "home/+/temp", true)]
    [InlineData("home.#", "home/#", true)]
    [InlineData("#", "#", true)]
    [InlineData("a.#.b", "a/#", false)] // AMQP '#' mid-key: widened, checked against the key
    [InlineData("a.x+y", "a/+", false)]
    public void BindingKey_MapsToFilter(string bindingKey, string filter, bool exact)
    {
        Assert.Equal(filter, TopicMapping.ToFilter(bindingKey, out var isExact));
        Assert.Equal(exact, isExact);
    }

    [Theory]
    [InlineData("a.*.c", "a.b.c", true)]
    [InlineData("a.*.c", "a.b.b.c", false)]
    [InlineData("a.#", "a", true)]
    [InlineData("a.#.c", "a.c", true)]
    [InlineData("a.#.c", "a.b.x.c", true)]
    [InlineData("a.#.c", "a.b.x", false)]
    [InlineData("#", "", true)]
    [InlineData("*", "", true)] // "" is one empty word
    [InlineData("a.b", "a.b", true)]
    public void TopicExchange_Matching_FollowsAmqpWords(string bindingKey, string routingKey, bool matches)
    {
        Assert.Equal(matches, TopicMatcher.Matches(bindingKey, routingKey));
    }

    [Fact]
    public void TargetedMessageAddress_RoundTrips_AndCannotBeATopicName()
    {
        var topic = MessageAddress.Encode("amq.direct", "key.with#odd/chars");

        Assert.False(Cicada.Core.Topics.TopicValidator.IsValidTopicName(topic));
        Assert.Equal(("amq.direct", "key.with#odd/chars"), MessageAddress.Decode(topic));
        Assert.Equal(("amq.topic", "a.b"), MessageAddress.Decode("a/b"));
    }
}
