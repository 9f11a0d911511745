using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using Cicada.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Cicada.Interop.Tests;

/// <summary>
/// MQTT 5 §4.10 request/response and §3.3.2.3 PUBLISH properties forwarded untouched: Payload Format
/// Indicator, Content Type, Response Topic, Correlation Data, User Properties (MQTT-3.3.2-15..18).
/// </summary>
public sealed class V5RequestResponseTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly int _port = fixture.Port;

    private static V5Props RequestProps(string responseTopic) => new V5Props()
        .Byte(Prop.PayloadFormatIndicator, 1)
        .String(Prop.ContentType, "application/json; charset=utf-8")
        .String(Prop.ResponseTopic, responseTopic)
        .Binary(Prop.CorrelationData, [0x00, 0xFF, 0x10, 0x80])
        .User("trace", "1")
        .User("Trace", "2")
        .User("trace", "3")
        .User("", "empty key");

    [Fact]
    public async Task MQTT_3_3_2_15_to_18_publish_properties_arrive_untouched_and_in_order()
    {
        var topic = TestNames.Topic("req");
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeV5Async(topic, 2);
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));

        await publisher.PublishV5Async(topic, "{\"on\":true}", 2, props: RequestProps("replies/here"));

        var p = await subscriber.ReceiveV5Async();
        Assert.Equal("{\"on\":true}", p.PayloadText);
        Assert.Equal((byte)1, p.Properties.Get<byte?>(Prop.PayloadFormatIndicator));
        Assert.Equal("application/json; charset=utf-8", p.Properties.Get<string>(Prop.ContentType));
        Assert.Equal("replies/here", p.Properties.Get<string>(Prop.ResponseTopic));
        Assert.Equal([0x00, 0xFF, 0x10, 0x80], p.Properties.Get<byte[]>(Prop.CorrelationData));
        Assert.Equal([("trace", "1"), ("Trace", "2"), ("trace", "3"), ("", "empty key")], p.Properties.All<(string, string)>(Prop.UserProperty));
    }

    [Fact]
    public async Task Section_4_10_a_request_and_its_response_round_trip_with_the_correlation_data()
    {
        var requests = TestNames.Topic("svc");
        var replies = TestNames.Topic("replies");
        await using var service = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("svc"));
        await service.SubscribeV5Async(requests);
        await using var requester = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("req"));
        await requester.SubscribeV5Async(replies);

        await requester.PublishV5Async(requests, "ping", 1,
            props: new V5Props().String(Prop.ResponseTopic, replies).Binary(Prop.CorrelationData, "id-7"u8.ToArray()));
        var request = await service.ReceiveV5Async();
        await service.PublishV5Async(request.Properties.Get<string>(Prop.ResponseTopic)!, "pong", 1,
            props: new V5Props().Binary(Prop.CorrelationData, request.Properties.Get<byte[]>(Prop.CorrelationData)!));

        var response = await requester.ReceiveV5Async();
        Assert.Equal("pong", response.PayloadText);
        Assert.Equal("id-7"u8.ToArray(), response.Properties.Get<byte[]>(Prop.CorrelationData));
    }

    [Fact]
    public async Task Section_3_3_2_3_mosquitto_pub_properties_reach_paho()
    {
        var topic = TestNames.Topic("mp");
        await using var paho = await PahoV5Client.StartAsync(_port, new JsonObject
        {
            ["id"] = TestNames.ClientId("paho"),
            ["subs"] = new JsonArray(new JsonObject { ["topic"] = topic, ["qos"] = 1 }),
            ["count"] = 1,
        });

        await MosquittoClients.PublishAsync(_port, topic, "hello", qos: 1, extra:
        [
            "-V", "mqttv5",
            "-D", "publish", "response-topic", "back/to/me",
            "-D", "publish", "correlation-data", "c-42",
            "-D", "publish", "content-type", "text/plain",
            "-D", "publish", "payload-format-indicator", "1",
            "-D", "publish", "user-property", "k", "v",
        ]);

        var props = Assert.Single((await paho.WaitAsync()).Messages)["props"]!.AsObject();
        Assert.Equal("back/to/me", (string?)props["ResponseTopic"]);
        Assert.Equal(Convert.ToHexStringLower("c-42"u8), (string?)props["CorrelationData"]);
        Assert.Equal("text/plain", (string?)props["ContentType"]);
        Assert.Equal(1, (int)props["PayloadFormatIndicator"]!);
        Assert.Equal(["k", "v"], props["UserProperty"]!.AsArray()[0]!.AsArray().Select(n => (string)n!));
    }

    [Fact]
    public async Task Section_3_3_2_3_paho_properties_reach_MQTTnet()
    {
        var topic = TestNames.Topic("pm");
        await using var subscriber = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("net"), configure: b => b.WithProtocolVersion(MqttProtocolVersion.V500));
        var received = new TaskCompletionSource<MqttApplicationMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        subscriber.Client.ApplicationMessageReceivedAsync += e =>
        {
            received.TrySetResult(e.ApplicationMessage);
            return Task.CompletedTask;
        };
        await subscriber.SubscribeAsync(topic, 1);

        await PahoV5Client.RunAsync(_port, new JsonObject
        {
            ["id"] = TestNames.ClientId("paho"),
            ["pubs"] = new JsonArray(new JsonObject
            {
                ["topic"] = topic,
                ["payload"] = "from paho",
                ["qos"] = 1,
                ["props"] = new JsonObject
                {
                    ["ResponseTopic"] = "answer/here",
                    ["CorrelationData"] = "0a0b",
                    ["ContentType"] = "text/plain",
                    ["UserProperty"] = new JsonArray(new JsonArray("a", "1"), new JsonArray("b", "2")),
                },
            }),
        });

        var message = await received.Task.WaitAsync(Timeouts.Packet);
        Assert.Equal("from paho", Encoding.UTF8.GetString(message.Payload.ToArray()));
        Assert.Equal("answer/here", message.ResponseTopic);
        Assert.Equal([0x0A, 0x0B], message.CorrelationData);
        Assert.Equal("text/plain", message.ContentType);
        Assert.Equal([("a", "1"), ("b", "2")], message.UserProperties.Select(u => (u.Name, Encoding.UTF8.GetString(u.ValueBuffer.Span))));
        await subscriber.DisconnectAsync();
    }

    [Fact]
    public async Task Section_3_3_2_3_MQTTnet_properties_reach_a_raw_subscriber()
    {
        var topic = TestNames.Topic("nr");
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeV5Async(topic);
        await using var publisher = await MqttNetClient.ConnectAsync(_port, TestNames.ClientId("net"), configure: b => b.WithProtocolVersion(MqttProtocolVersion.V500));

        await publisher.Client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload("from MQTTnet")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithResponseTopic("r/t")
            .WithCorrelationData([9, 9])
            .WithContentType("text/plain")
            .WithPayloadFormatIndicator(MqttPayloadFormatIndicator.CharacterData)
            .WithUserProperty("x", new ReadOnlyMemory<byte>("y"u8.ToArray()))
            .Build());

        var p = await subscriber.ReceiveV5Async();
        Assert.Equal("from MQTTnet", p.PayloadText);
        Assert.Equal("r/t", p.Properties.Get<string>(Prop.ResponseTopic));
        Assert.Equal([9, 9], p.Properties.Get<byte[]>(Prop.CorrelationData));
        Assert.Equal("text/plain", p.Properties.Get<string>(Prop.ContentType));
        Assert.Equal((byte)1, p.Properties.Get<byte?>(Prop.PayloadFormatIndicator));
        Assert.Equal([("x", "y")], p.Properties.All<(string, string)>(Prop.UserProperty));
        await publisher.DisconnectAsync();
    }

    [SkippableTheory]
    [InlineData(1, PacketType.PubAck)]
    [InlineData(2, PacketType.PubRec)]
    public async Task Section_3_3_2_3_2_a_payload_that_is_not_the_UTF_8_it_claims_is_refused_with_0x99(int qos, PacketType ack)
    {
        V5Deviation.OptionalOnMosquitto("checking a payload against its Payload Format Indicator (a receiver MAY)");
        var topic = TestNames.Topic("pfi");
        var sentinel = TestNames.Topic("sentinel");
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeV5Async(null, (topic, V5Packets.Options(1)), (sentinel, V5Packets.Options(1)));
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));

        await publisher.SendAsync(V5Packets.Publish(topic, [0xC3, 0x28], qos, packetId: 7, props: new V5Props().Byte(Prop.PayloadFormatIndicator, 1)));
        var answer = await publisher.ReadPacketAsync(ack);

        Assert.Equal((7, 0x99), (answer.PacketId, answer.AckReason()));
        await publisher.PublishV5Async(sentinel, "end", 1);
        Assert.Empty(await subscriber.ReceiveV5UntilAsync(sentinel)); // never forwarded
    }

    [Fact]
    public async Task Section_3_3_2_3_2_a_binary_payload_without_the_indicator_passes()
    {
        var topic = TestNames.Topic("bin");
        await using var subscriber = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("sub"));
        await subscriber.SubscribeV5Async(topic);
        await using var publisher = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("pub"));

        await publisher.SendAsync(V5Packets.Publish(topic, [0xC3, 0x28], 1, packetId: 1, props: new V5Props().Byte(Prop.PayloadFormatIndicator, 0)));

        Assert.Equal(0, (await publisher.ReadPacketSkippingAsync(PacketType.PubAck)).AckReason());
        var p = await subscriber.ReceiveV5Async();
        Assert.Equal([0xC3, 0x28], p.Payload);
        Assert.Equal((byte)0, p.Properties.Get<byte?>(Prop.PayloadFormatIndicator));
    }

    [SkippableFact]
    public async Task MQTT_3_3_2_14_a_response_topic_with_wildcards_is_a_protocol_error()
    {
        V5Deviation.SkipOnMosquitto("it forwards a Response Topic containing wildcards");
        await using var client = await V5Client.ConnectAcceptedAsync(_port, TestNames.ClientId("rt"));

        await client.SendIgnoringErrorsAsync(V5Packets.Publish(TestNames.Topic("rt"), "x", 1, packetId: 1,
            props: new V5Props().String(Prop.ResponseTopic, "replies/+")));

        await client.ExpectDisconnectAsync(0x82);
    }
}
