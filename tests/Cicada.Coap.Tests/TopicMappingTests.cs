using System.Text;
using Cicada.Coap.Protocol;
using Cicada.Core;

namespace Cicada.Coap.Tests;

/// <summary>The <c>/ps/{topic}</c> mapping onto Core (DESIGN.md), with RFC 7252 §5.8–§5.10 semantics.</summary>
public sealed class TopicMappingTests
{
    private static CoapMessage Put(CoapHarness coap, string path, string payload, params string[] query)
    {
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Put, coap.NextId(), path, query);
        request.Payload = Encoding.UTF8.GetBytes(payload);
        return request;
    }

    [Fact]
    public async Task Put_PublishesRetained_ByDefault_WithContentFormatAsContentType()
    {
        await using var coap = await CoapHarness.StartAsync();
        var subscriber = CoreSubscriber.Subscribe(coap.Broker, "home/#");
        var request = Put(coap, "ps/home/kitchen/temp", "{\"t\":21}");
        request.AddUInt(CoapOptionNumber.ContentFormat, ContentFormats.Json);

        var created = await coap.ExchangeAsync(request);
        var changed = await coap.ExchangeAsync(Put(coap, "ps/home/kitchen/temp", "{\"t\":22}"));

        Assert.Equal(CoapCode.Created, created.Code); // §5.8.3: created the resource
        Assert.Equal(CoapCode.Changed, changed.Code);
        var retained = coap.Broker.Retained.Get("home/kitchen/temp");
        Assert.NotNull(retained);
        Assert.Equal("{\"t\":22}", Encoding.UTF8.GetString(retained.Payload.Span));
        var received = await subscriber.CollectAsync();
        Assert.Equal("application/json", received[0].Properties?.ContentType);
        Assert.Equal(QoS.AtLeastOnce, received[0].Qos); // a CON request publishes at QoS 1
    }

    [Fact]
    public async Task Post_DoesNotRetain_UnlessAsked_AndHonoursQos()
    {
        await using var coap = await CoapHarness.StartAsync();
        var subscriber = CoreSubscriber.Subscribe(coap.Broker, "events/#");
        var post = CoapHarness.Request(CoapType.Confirmable, CoapCode.Post, coap.NextId(), "ps/events/door", "qos=2");
        post.Payload = "open"u8.ToArray();
        var retainedPost = CoapHarness.Request(CoapType.Confirmable, CoapCode.Post, coap.NextId(), "ps/events/window", "retain=true", "qos=0");
        retainedPost.Payload = "shut"u8.ToArray();

        Assert.Equal(CoapCode.Changed, (await coap.ExchangeAsync(post)).Code);
        Assert.Equal(CoapCode.Changed, (await coap.ExchangeAsync(retainedPost)).Code);

        Assert.Null(coap.Broker.Retained.Get("events/door"));
        Assert.NotNull(coap.Broker.Retained.Get("events/window"));
        await subscriber.CollectAsync();
        await Task.Delay(100);
        var received = await subscriber.CollectAsync(100);
        Assert.Equal(QoS.ExactlyOnce, received.Single(m => m.Topic == "events/door").Qos);
        Assert.Equal(QoS.AtMostOnce, received.Single(m => m.Topic == "events/window").Qos);
    }

    [Theory]
    [InlineData("qos=3")]
    [InlineData("retain=maybe")]
    public async Task BadQueryValue_Is400(string query)
    {
        await using var coap = await CoapHarness.StartAsync();

        var response = await coap.ExchangeAsync(Put(coap, "ps/a", "x", query));

        Assert.Equal(CoapCode.BadRequest, response.Code);
        Assert.Null(coap.Broker.Retained.Get("a"));
    }

    [Fact]
    public async Task Get_ReturnsRetainedValue_WithContentFormatETagAndMaxAgeFromExpiry()
    {
        await using var coap = await CoapHarness.StartAsync();
        await coap.Broker.PublishAsync(new Message("sensors/1", "42"u8.ToArray(), QoS.AtLeastOnce, true,
            new MessageProperties { ContentType = "text/plain" }, expiresAt: DateTimeOffset.UtcNow.AddSeconds(120)));

        var response = await coap.ExchangeAsync(CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/sensors/1"));

        Assert.Equal(CoapCode.Content, response.Code);
        Assert.Equal("42", Encoding.UTF8.GetString(response.Payload.Span));
        Assert.Equal(0u, response.GetUInt(CoapOptionNumber.ContentFormat));
        Assert.InRange(response.GetUInt(CoapOptionNumber.MaxAge) ?? 0, 118u, 120u);
        Assert.True(response.TryGet(CoapOptionNumber.ETag, out var etag));

        // §5.10.6.2: a GET naming the current ETag gets 2.03 Valid without the payload.
        var validate = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/sensors/1");
        validate.Add(CoapOptionNumber.ETag, etag.Value);
        var valid = await coap.ExchangeAsync(validate);
        Assert.Equal(CoapCode.Valid, valid.Code);
        Assert.True(valid.Payload.IsEmpty);
    }

    [Fact]
    public async Task Get_WithoutRetainedValue_Is404()
    {
        await using var coap = await CoapHarness.StartAsync();

        var response = await coap.ExchangeAsync(CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/nothing/here"));

        Assert.Equal(CoapCode.NotFound, response.Code);
    }

    [Fact]
    public async Task RFC7252_5_10_4_Accept_OtherThanTheValuesFormat_Is406()
    {
        await using var coap = await CoapHarness.StartAsync();
        await coap.Broker.PublishAsync(new Message("j", "{}"u8.ToArray(), QoS.AtMostOnce, true, new MessageProperties { ContentType = "application/json" }));
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/j");
        request.AddUInt(CoapOptionNumber.Accept, ContentFormats.Cbor);

        Assert.Equal(CoapCode.NotAcceptable, (await coap.ExchangeAsync(request)).Code);
    }

    [Fact]
    public async Task RFC7252_5_10_3_UnknownContentFormat_Is415()
    {
        await using var coap = await CoapHarness.StartAsync();
        var request = Put(coap, "ps/cf", "x");
        request.AddUInt(CoapOptionNumber.ContentFormat, 65000);

        Assert.Equal(CoapCode.UnsupportedContentFormat, (await coap.ExchangeAsync(request)).Code);
        Assert.Null(coap.Broker.Retained.Get("cf"));
    }

    [Fact]
    public async Task RFC7252_5_10_8_IfNoneMatch_WhenAValueExists_Is412()
    {
        await using var coap = await CoapHarness.StartAsync();
        await coap.ExchangeAsync(Put(coap, "ps/once", "first"));
        var second = Put(coap, "ps/once", "second");
        second.Add(CoapOptionNumber.IfNoneMatch, ReadOnlyMemory<byte>.Empty);

        Assert.Equal(CoapCode.PreconditionFailed, (await coap.ExchangeAsync(second)).Code);
        Assert.Equal("first", Encoding.UTF8.GetString(coap.Broker.Retained.Get("once")!.Payload.Span));
    }

    [Fact]
    public async Task Delete_ClearsTheRetainedValue()
    {
        await using var coap = await CoapHarness.StartAsync();
        await coap.ExchangeAsync(Put(coap, "ps/gone", "v"));

        var deleted = await coap.ExchangeAsync(CoapHarness.Request(CoapType.Confirmable, CoapCode.Delete, coap.NextId(), "ps/gone"));
        var after = await coap.ExchangeAsync(CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/gone"));

        Assert.Equal(CoapCode.Deleted, deleted.Code);
        Assert.Null(coap.Broker.Retained.Get("gone"));
        Assert.Equal(CoapCode.NotFound, after.Code);
    }

    [Theory]
    [InlineData(CoapCode.Put, "ps/a/+")]
    [InlineData(CoapCode.Post, "ps/a/#")]
    [InlineData(CoapCode.Get, "ps/a/+")]
    public async Task Wildcards_OutsideObserve_Are400(byte method, string path)
    {
        await using var coap = await CoapHarness.StartAsync();

        var response = await coap.ExchangeAsync(CoapHarness.Request(CoapType.Confirmable, method, coap.NextId(), path));

        Assert.Equal(CoapCode.BadRequest, response.Code);
    }

    [Fact]
    public async Task PublishToDollarTopic_Is403()
    {
        await using var coap = await CoapHarness.StartAsync();

        Assert.Equal(CoapCode.Forbidden, (await coap.ExchangeAsync(Put(coap, "ps/$SYS/x", "v"))).Code);
    }

    [Fact]
    public async Task UnknownResource_Is404()
    {
        await using var coap = await CoapHarness.StartAsync();

        Assert.Equal(CoapCode.NotFound, (await coap.ExchangeAsync(CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "other/x"))).Code);
    }

    [Fact]
    public async Task RefusedCredentials_Are401_AndNothingIsPublished()
    {
        await using var coap = await CoapHarness.StartAsync(allowAnonymous: false);

        var anonymous = await coap.ExchangeAsync(Put(coap, "ps/locked", "v"));
        var wrong = await coap.ExchangeAsync(Put(coap, "ps/locked", "v", "c=dev1", "u=nobody", "p=secret"));

        Assert.Equal(CoapCode.Unauthorized, anonymous.Code);
        Assert.Equal(CoapCode.Unauthorized, wrong.Code);
        Assert.Null(coap.Broker.Retained.Get("locked"));
    }

    [Fact]
    public async Task ClientIdQuery_IsThePublishersOrigin()
    {
        await using var coap = await CoapHarness.StartAsync();
        var subscriber = CoreSubscriber.Subscribe(coap.Broker, "origin");

        await coap.ExchangeAsync(Put(coap, "ps/origin", "v", "c=thermostat-7"));

        Assert.Equal("thermostat-7", (await subscriber.CollectAsync()).Single().OriginClientId);
    }
}
