using System.Text;
using Cicada.Coap.Protocol;
using Cicada.Core;

namespace Cicada.Coap.Tests;

/// <summary>RFC 7252 §4 (messages and reliability) and §5.4 (option handling), over raw UDP.</summary>
public sealed class MessageLayerTests
{
    [Fact]
    public async Task RFC7252_4_3_EmptyConfirmable_Ping_IsAnsweredWithReset()
    {
        await using var coap = await CoapHarness.StartAsync();

        await coap.SendAsync(CoapCodec.EncodeEmpty(CoapType.Confirmable, 0x0BAD));
        var reply = await coap.ReceiveAsync();

        Assert.Equal(CoapType.Reset, reply.Type);
        Assert.True(reply.IsEmpty);
        Assert.Equal(0x0BAD, reply.MessageId);
    }

    [Fact]
    public async Task RFC7252_4_5_DuplicateConfirmable_GetsTheSameResponse_AndIsPublishedOnce()
    {
        await using var coap = await CoapHarness.StartAsync();
        var subscriber = CoreSubscriber.Subscribe(coap.Broker, "dup/#");
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Post, coap.NextId(), "ps/dup/t");
        request.Payload = "once"u8.ToArray();
        var bytes = CoapCodec.Encode(request);

        await coap.SendAsync(bytes);
        var first = await coap.ReceiveBytesAsync();
        await coap.SendAsync(bytes); // the client's retransmission: same message id
        var second = await coap.ReceiveBytesAsync();

        Assert.NotNull(first);
        Assert.Equal(first, second);
        CoapCodec.TryDecode(first!, out var response, out _);
        Assert.Equal(CoapType.Acknowledgement, response.Type);
        Assert.Equal(CoapCode.Changed, response.Code);
        var received = await subscriber.CollectAsync();
        await Task.Delay(200);
        Assert.Single(await subscriber.CollectAsync(100));
        Assert.Equal("once", Encoding.UTF8.GetString(received[0].Payload.Span));
    }

    [Fact]
    public async Task RFC7252_5_2_1_ConfirmableRequest_GetsPiggybackedResponse_WithItsMessageIdAndToken()
    {
        await using var coap = await CoapHarness.StartAsync();
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/none");

        var response = await coap.ExchangeAsync(request);

        Assert.Equal(CoapType.Acknowledgement, response.Type);
        Assert.Equal(request.MessageId, response.MessageId);
        Assert.Equal(request.Token.ToArray(), response.Token.ToArray());
        Assert.Equal(CoapCode.NotFound, response.Code);
    }

    [Fact]
    public async Task RFC7252_5_2_3_NonConfirmableRequest_GetsNonConfirmableResponse()
    {
        await using var coap = await CoapHarness.StartAsync();
        var request = CoapHarness.Request(CoapType.NonConfirmable, CoapCode.Put, coap.NextId(), "ps/non/t");
        request.Payload = "v"u8.ToArray();

        var response = await coap.ExchangeAsync(request);

        Assert.Equal(CoapType.NonConfirmable, response.Type);
        Assert.Equal(request.Token.ToArray(), response.Token.ToArray());
        Assert.Equal(CoapCode.Created, response.Code);
    }

    [Fact]
    public async Task RFC7252_5_4_1_UnrecognisedCriticalOption_InConfirmable_Is402()
    {
        await using var coap = await CoapHarness.StartAsync();
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/t");
        request.Add(2049, "x"u8.ToArray()); // odd = critical, unknown

        var response = await coap.ExchangeAsync(request);

        Assert.Equal(CoapCode.BadOption, response.Code);
        Assert.Equal(CoapType.Acknowledgement, response.Type);
    }

    [Fact]
    public async Task RFC7252_5_4_1_UnrecognisedElectiveOption_IsIgnored()
    {
        await using var coap = await CoapHarness.StartAsync();
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Put, coap.NextId(), "ps/elective");
        request.Add(2048, "x"u8.ToArray()); // even = elective
        request.Payload = "1"u8.ToArray();

        var response = await coap.ExchangeAsync(request);

        Assert.Equal(CoapCode.Created, response.Code);
    }

    [Fact]
    public async Task RFC7252_5_4_5_RepeatedNonRepeatableCriticalOption_Is402()
    {
        await using var coap = await CoapHarness.StartAsync();
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/t");
        request.Add(CoapOptionNumber.UriHost, "a");
        request.Add(CoapOptionNumber.UriHost, "b");

        var response = await coap.ExchangeAsync(request);

        Assert.Equal(CoapCode.BadOption, response.Code);
    }

    [Fact]
    public async Task RFC7252_5_4_1_UnrecognisedCriticalOption_InNonConfirmable_IsRejectedWithReset()
    {
        await using var coap = await CoapHarness.StartAsync();
        var request = CoapHarness.Request(CoapType.NonConfirmable, CoapCode.Get, coap.NextId(), "ps/t");
        request.Add(2049, "x"u8.ToArray());

        var response = await coap.ExchangeAsync(request);

        Assert.Equal(CoapType.Reset, response.Type);
        Assert.Equal(request.MessageId, response.MessageId);
    }

    [Theory]
    [InlineData(0x05)] // FETCH (RFC 8132)
    [InlineData(0x07)] // iPATCH
    [InlineData(0x1F)] // unassigned method
    public async Task RFC7252_5_8_UnsupportedMethod_Is405(byte method)
    {
        await using var coap = await CoapHarness.StartAsync();

        var response = await coap.ExchangeAsync(CoapHarness.Request(CoapType.Confirmable, method, coap.NextId(), "ps/t"));

        Assert.Equal(CoapCode.MethodNotAllowed, response.Code);
    }

    [Fact]
    public async Task RFC7252_5_8_PutOnWellKnownCore_Is405()
    {
        await using var coap = await CoapHarness.StartAsync();

        var response = await coap.ExchangeAsync(CoapHarness.Request(CoapType.Confirmable, CoapCode.Put, coap.NextId(), ".well-known/core"));

        Assert.Equal(CoapCode.MethodNotAllowed, response.Code);
    }

    [Fact]
    public async Task RFC7252_4_2_MalformedConfirmable_IsReset_AndTheListenerCarriesOn()
    {
        await using var coap = await CoapHarness.StartAsync();

        await coap.SendAsync([0x40, 0x01, 0x00, 0x2A, 0xF1]); // reserved length nibble 15
        var reset = await coap.ReceiveAsync();
        await coap.SendAsync([0x50, 0x01, 0x00, 0x2B, 0xFF]); // malformed NON: silently dropped (§4.3)
        var nothing = await coap.ReceiveBytesAsync(300);
        var after = await coap.ExchangeAsync(CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/t"));

        Assert.Equal(CoapType.Reset, reset.Type);
        Assert.Equal(0x2A, reset.MessageId);
        Assert.Null(nothing);
        Assert.Equal(CoapCode.NotFound, after.Code);
    }

    [Fact]
    public async Task RFC7252_4_2_ResponseSentToTheServer_IsRejectedWithReset()
    {
        await using var coap = await CoapHarness.StartAsync();
        var stray = new CoapMessage { Type = CoapType.Confirmable, Code = CoapCode.Content, MessageId = 77 };

        var reply = await coap.ExchangeAsync(stray);

        Assert.Equal(CoapType.Reset, reply.Type);
        Assert.Equal(77, reply.MessageId);
    }

    [Fact]
    public async Task RFC7252_4_2_OurConfirmable_IsRetransmittedWithBackoff_ThenGivenUp()
    {
        await using var coap = await CoapHarness.StartAsync();
        var register = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/rt/t");
        register.AddUInt(CoapOptionNumber.Observe, 0);
        Assert.Equal(CoapCode.Content, (await coap.ExchangeAsync(register)).Code);

        await coap.Broker.PublishAsync(new Message("rt/t", "n1"u8.ToArray(), QoS.AtMostOnce, false));
        var notification = await coap.ReceiveBytesAsync();
        Assert.NotNull(notification);
        CoapCodec.TryDecode(notification!, out var first, out _);
        Assert.Equal(CoapType.Confirmable, first.Type);

        // Drive the edge's timer past each doubled timeout: ACK_TIMEOUT × [1, 1.5] then ×2 per retry.
        var start = DateTimeOffset.UtcNow;
        var elapsed = TimeSpan.Zero;
        for (var attempt = 0; attempt < CoapTransmission.MaxRetransmit; attempt++)
        {
            elapsed += TimeSpan.FromSeconds(3 * Math.Pow(2, attempt));
            coap.Server.Tick(start + elapsed);
            Assert.Equal(notification, await coap.ReceiveBytesAsync()); // same bytes, same message id
        }

        elapsed += TimeSpan.FromSeconds(3 * Math.Pow(2, CoapTransmission.MaxRetransmit));
        coap.Server.Tick(start + elapsed);

        Assert.Null(await coap.ReceiveBytesAsync(300)); // no fifth retransmission
        Assert.Equal(0, coap.Server.OutgoingCount);
        Assert.Equal(0, coap.Server.ObservationCount); // RFC 7641 §4.5: the silent observer is removed
    }

    [Fact]
    public async Task RFC7252_4_2_AcknowledgedConfirmable_IsNotRetransmitted()
    {
        await using var coap = await CoapHarness.StartAsync();
        var register = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/ack/t");
        register.AddUInt(CoapOptionNumber.Observe, 0);
        await coap.ExchangeAsync(register);
        await coap.Broker.PublishAsync(new Message("ack/t", "n1"u8.ToArray(), QoS.AtMostOnce, false));
        var notification = await coap.ReceiveAsync();

        await coap.SendAsync(CoapCodec.EncodeEmpty(CoapType.Acknowledgement, notification.MessageId));
        await Task.Delay(200);
        coap.Server.Tick(DateTimeOffset.UtcNow + TimeSpan.FromSeconds(10));

        Assert.Null(await coap.ReceiveBytesAsync(300));
        Assert.Equal(1, coap.Server.ObservationCount);
    }

    [Fact]
    public async Task RFC7252_5_2_2_SlowConfirmable_GetsEmptyAck_ThenSeparateConfirmableResponse()
    {
        var gate = new GatedAuthenticator();
        await using var coap = await CoapHarness.StartAsync(authenticator: gate);
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/slow");
        var token = request.Token.ToArray();

        await coap.SendAsync(request);
        Assert.Null(await coap.ReceiveBytesAsync(300)); // still working: nothing yet
        coap.Server.Tick(DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1.5));
        var emptyAck = await coap.ReceiveAsync();
        gate.Open();
        var separate = await coap.ReceiveAsync();
        await coap.SendAsync(CoapCodec.EncodeEmpty(CoapType.Acknowledgement, separate.MessageId));
        await coap.SendAsync(request); // a late duplicate of the request: the empty ACK again, not a second response
        var again = await coap.ReceiveAsync();

        Assert.Equal(CoapType.Acknowledgement, emptyAck.Type);
        Assert.True(emptyAck.IsEmpty);
        Assert.Equal(request.MessageId, emptyAck.MessageId);
        Assert.Equal(CoapType.Confirmable, separate.Type);
        Assert.NotEqual(request.MessageId, separate.MessageId);
        Assert.Equal(token, separate.Token.ToArray()); // §5.3.2: matched by token
        Assert.Equal(CoapCode.NotFound, separate.Code);
        Assert.True(again.IsEmpty);
        Assert.Equal(CoapType.Acknowledgement, again.Type);
        await Task.Delay(100);
        Assert.Equal(0, coap.Server.OutgoingCount); // the separate response was acknowledged
    }
}
