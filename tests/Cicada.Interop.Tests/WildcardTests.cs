using Cicada.Interop.Tests.Infrastructure;

namespace Cicada.Interop.Tests;

/// <summary>MQTT 3.1.1 §4.7 topic names, topic filters and the <c>+</c> / <c>#</c> wildcards.</summary>
public sealed class WildcardTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    /// <summary>
    /// {r} becomes a unique multi-level root ("it/&lt;id&gt;"), {u} a unique single level, so each
    /// case has its own corner of the topic space on the shared broker.
    /// </summary>
    [Theory]
    [InlineData("{r}/sport/tennis/+", "{r}/sport/tennis/player1", true)]
    [InlineData("{r}/sport/tennis/+", "{r}/sport/tennis/player1/ranking", false)]
    [InlineData("{r}/sport/#", "{r}/sport", true)] // §4.7.1.2: # includes the parent level
    [InlineData("{r}/sport/#", "{r}/sport/tennis/player1", true)]
    [InlineData("{r}/sport/+", "{r}/sport", false)]
    [InlineData("{r}/sport/+", "{r}/sport/", true)] // an empty level is a level
    [InlineData("{r}/+/x", "{r}//x", true)]
    [InlineData("{r}/a/+/c", "{r}/a/b/c", true)]
    [InlineData("{r}/a/+/c", "{r}/a/b/d", false)]
    [InlineData("{r}/+", "{r}/a/b", false)]
    [InlineData("{r}/+/+", "{r}/a/b", true)]
    [InlineData("{r}/Sport", "{r}/sport", false)] // §4.7.3: case sensitive
    [InlineData("#", "{r}/a/b", true)]
    [InlineData("+", "{u}", true)]
    [InlineData("+", "{r}/a", false)]
    [InlineData("+/+", "/{u}", true)]
    [InlineData("/+", "/{u}", true)]
    [InlineData("+", "/{u}", false)]
    public async Task MQTT_4_7_1_filter_matching(string filterPattern, string topicPattern, bool matches)
    {
        var (filter, topic) = Instantiate(filterPattern, topicPattern);
        Assert.Equal(matches, await DeliversAsync(filter, topic));
    }

    [Theory]
    [InlineData("#")]
    [InlineData("+/x")]
    [InlineData("+/+")]
    [InlineData("+/#")]
    public async Task MQTT_4_7_2_1_wildcard_at_first_level_does_not_match_dollar_topics(string filterSuffix)
    {
        var topic = $"${TestNames.ClientId("it")}/x";
        Assert.False(await DeliversAsync(filterSuffix, topic));
    }

    [Fact]
    public async Task MQTT_4_7_2_dollar_topics_are_matched_by_an_explicit_dollar_filter()
    {
        var root = $"${TestNames.ClientId("it")}";
        Assert.True(await DeliversAsync($"{root}/#", $"{root}/x"));
        Assert.True(await DeliversAsync($"{root}/+", $"{root}/y"));
    }

    [Theory]
    [InlineData("a/#/b")] // MQTT-4.7.1-2: # must be last
    [InlineData("a/b#")] // MQTT-4.7.1-2: # must follow a separator
    [InlineData("#/a")]
    [InlineData("a+")] // MQTT-4.7.1-3: + must occupy a whole level
    [InlineData("a/+b/c")]
    [InlineData("+a")]
    [InlineData("")] // MQTT-4.7.3-1: at least one character
    public async Task MQTT_4_7_1_invalid_topic_filter_closes_connection(string filter)
    {
        // 3.1.1 defines no "invalid filter" SUBACK: an invalid filter is a protocol violation and
        // MQTT-4.8.0-1 says the server MUST close the connection (0x80 is for refusals of valid ones).
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SendAsync(MqttPackets.Subscribe(1, (filter, 0)));

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.SubAck);
        await BrokerAssert.StillServesAsync(_port);
    }

    [Theory]
    [InlineData("+")]
    [InlineData("#")]
    [InlineData("{r}/+")]
    [InlineData("{r}/#")]
    [InlineData("{r}/+/x")]
    public async Task MQTT_3_3_2_2_publish_to_topic_name_with_wildcard_closes_connection(string topicPattern)
    {
        var (topic, _) = Instantiate(topicPattern, "");
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SendAsync(MqttPackets.Publish(topic, "wild", qos: 1, packetId: 1));

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.PubAck);
        await BrokerAssert.StillServesAsync(_port);
    }

    [Fact]
    public async Task MQTT_4_7_3_1_publish_to_empty_topic_name_closes_connection()
    {
        await using var client = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId());
        await client.SendAsync(MqttPackets.Publish("", "nowhere", qos: 1, packetId: 1));

        var packets = await client.ExpectClosedAsync();

        Assert.DoesNotContain(packets, p => p.Type == PacketType.PubAck);
        await BrokerAssert.StillServesAsync(_port);
    }

    [Theory]
    [InlineData(MqttVersion.V311)]
    [InlineData(MqttVersion.V31)]
    public async Task MQTT_4_7_1_2_mosquitto_sub_with_multi_level_wildcard_receives_parent_and_children(MqttVersion version)
    {
        var root = TestNames.Topic("tree");
        await using var subscriber = await MosquittoClients.SubscribeAsync(_port, $"{root}/#", qos: 1, count: 3, version: version);
        await MosquittoClients.PublishAsync(_port, root, "parent", qos: 1, version: version);
        await MosquittoClients.PublishAsync(_port, $"{root}/a", "child", qos: 1, version: version);
        await MosquittoClients.PublishAsync(_port, $"{root}/a/b/c", "grandchild", qos: 1, version: version);

        var messages = await subscriber.WaitForExitAsync();

        Assert.Equal([(root, "parent"), ($"{root}/a", "child"), ($"{root}/a/b/c", "grandchild")], messages.Select(m => (m.Topic, m.Payload)));
    }

    private static (string Filter, string Topic) Instantiate(string filterPattern, string topicPattern)
    {
        var root = TestNames.Topic("w");
        var single = TestNames.ClientId("w").Replace("-", "", StringComparison.Ordinal);
        string Fill(string pattern) => pattern.Replace("{r}", root, StringComparison.Ordinal).Replace("{u}", single, StringComparison.Ordinal);
        return (Fill(filterPattern), Fill(topicPattern));
    }

    /// <summary>
    /// Subscribes <paramref name="filter"/> plus a sentinel, publishes to <paramref name="topic"/>
    /// then to the sentinel (same publisher, same QoS — MQTT-4.6.0-6 orders them), and reports
    /// whether the first arrived before the sentinel.
    /// </summary>
    private async Task<bool> DeliversAsync(string filter, string topic)
    {
        var sentinel = TestNames.Topic("sentinel");
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        var subAck = await subscriber.SubscribeAsync((filter, 0), (sentinel, 0));
        Assert.Equal([0, 0], subAck.SubAckReturnCodes);
        await using var publisher = await RawMqttClient.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));
        await publisher.PublishAsync(topic, "probe");
        await publisher.PublishAsync(sentinel, "end");

        var before = await subscriber.ReceiveUntilAsync(sentinel);
        return before.Any(p => p.Topic == topic && p.PayloadText == "probe");
    }
}
