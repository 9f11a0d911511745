using System.Text;
using Cicada.Coap.Protocol;
using Cicada.Core;

namespace Cicada.Coap.Tests;

/// <summary>
/// Normative rules of RFC 7252 / 7641 / 7959 the other test classes do not already pin, as raw
/// UDP exchanges (the cases an ETSI-plugtest-style harness or Californium/aiocoap would hit).
/// docs/conformance-coap.md maps every rule to its test.
/// </summary>
public sealed class ConformanceTests
{
    private static CoapMessage Put(CoapHarness coap, string path, string payload, CoapType type = CoapType.Confirmable)
    {
        var request = CoapHarness.Request(type, CoapCode.Put, coap.NextId(), path);
        request.Payload = Encoding.UTF8.GetBytes(payload);
        return request;
    }

    [Theory]
    [InlineData(0x05, "nowhere/at/all")] // FETCH on a resource that does not exist
    [InlineData(0x06, ".well-known/core")] // PATCH on discovery
    [InlineData(0x1E, "ps")] // unassigned method code on the collection
    public async Task RFC7252_5_8_UnrecognisedMethod_Is405_WhateverTheResource(byte method, string path)
    {
        await using var coap = await CoapHarness.StartAsync();

        var response = await coap.ExchangeAsync(CoapHarness.Request(CoapType.Confirmable, method, coap.NextId(), path));

        Assert.Equal(CoapCode.MethodNotAllowed, response.Code);
    }

    [Fact]
    public async Task RFC7252_5_4_3_CriticalOptionOfWrongLength_IsTreatedAsUnrecognised_402()
    {
        await using var coap = await CoapHarness.StartAsync();
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/t");
        request.Add(CoapOptionNumber.UriHost, ReadOnlyMemory<byte>.Empty); // Uri-Host is 1–255 bytes (§5.10)

        var response = await coap.ExchangeAsync(request);

        Assert.Equal(CoapCode.BadOption, response.Code);
        Assert.Equal(request.MessageId, response.MessageId);
    }

    [Fact]
    public async Task RFC7252_5_4_5_RepeatedNonRepeatableElectiveOption_IsIgnored()
    {
        await using var coap = await CoapHarness.StartAsync();
        await coap.Broker.PublishAsync(new Message("rep", "v"u8.ToArray(), QoS.AtMostOnce, true));
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/rep");
        request.AddUInt(CoapOptionNumber.MaxAge, 10); // Max-Age (14, elective) is not repeatable
        request.AddUInt(CoapOptionNumber.MaxAge, 20);

        var response = await coap.ExchangeAsync(request);

        Assert.Equal(CoapCode.Content, response.Code);
        Assert.Equal("v", Encoding.UTF8.GetString(response.Payload.Span));
    }

    [Fact]
    public async Task RFC7252_5_10_1_UriHostAndUriPort_NameThisServer_AndAreServed()
    {
        await using var coap = await CoapHarness.StartAsync();
        await coap.Broker.PublishAsync(new Message("hosted", "h"u8.ToArray(), QoS.AtMostOnce, true));
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/hosted");
        request.Add(CoapOptionNumber.UriHost, "broker.example");
        request.AddUInt(CoapOptionNumber.UriPort, 5683);

        var response = await coap.ExchangeAsync(request);

        Assert.Equal(CoapCode.Content, response.Code);
        Assert.Equal("h", Encoding.UTF8.GetString(response.Payload.Span));
    }

    [Theory]
    [InlineData(CoapOptionNumber.ProxyUri, "coap://elsewhere.example/x")]
    [InlineData(CoapOptionNumber.ProxyScheme, "http")]
    public async Task RFC7252_5_7_2_ProxyRequest_ToANonProxy_Is505(ushort option, string value)
    {
        await using var coap = await CoapHarness.StartAsync();
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/t");
        request.Add(option, value);

        Assert.Equal(CoapCode.ProxyingNotSupported, (await coap.ExchangeAsync(request)).Code);
    }

    [Fact]
    public async Task RFC7252_5_10_8_1_IfMatch_OfAnotherETag_Is412_TheCurrentOneOrEmptyUpdates()
    {
        await using var coap = await CoapHarness.StartAsync();
        await coap.ExchangeAsync(Put(coap, "ps/cond", "one"));
        var current = await coap.ExchangeAsync(CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/cond"));
        Assert.True(current.TryGet(CoapOptionNumber.ETag, out var etag));

        var stale = Put(coap, "ps/cond", "two");
        stale.Add(CoapOptionNumber.IfMatch, new byte[] { 1, 2, 3, 4 });
        var fresh = Put(coap, "ps/cond", "three");
        fresh.Add(CoapOptionNumber.IfMatch, etag.Value);
        var any = Put(coap, "ps/cond", "four");
        any.Add(CoapOptionNumber.IfMatch, ReadOnlyMemory<byte>.Empty); // empty If-Match: "any value exists"

        Assert.Equal(CoapCode.PreconditionFailed, (await coap.ExchangeAsync(stale)).Code);
        Assert.Equal(CoapCode.Changed, (await coap.ExchangeAsync(fresh)).Code);
        Assert.Equal(CoapCode.Changed, (await coap.ExchangeAsync(any)).Code);
        Assert.Equal("four", Encoding.UTF8.GetString(coap.Broker.Retained.Get("cond")!.Payload.Span));

        var missing = Put(coap, "ps/cond-missing", "x");
        missing.Add(CoapOptionNumber.IfMatch, ReadOnlyMemory<byte>.Empty);
        Assert.Equal(CoapCode.PreconditionFailed, (await coap.ExchangeAsync(missing)).Code);
    }

    [Fact]
    public async Task RFC7252_5_8_3_Put_Creates201_ThenChanges204()
    {
        await using var coap = await CoapHarness.StartAsync();

        Assert.Equal(CoapCode.Created, (await coap.ExchangeAsync(Put(coap, "ps/created", "a"))).Code);
        Assert.Equal(CoapCode.Changed, (await coap.ExchangeAsync(Put(coap, "ps/created", "b"))).Code);
    }

    [Fact]
    public async Task RFC7252_4_5_DuplicateNonConfirmable_IsProcessedOnce()
    {
        await using var coap = await CoapHarness.StartAsync();
        var subscriber = CoreSubscriber.Subscribe(coap.Broker, "dup/non");
        var request = CoapHarness.Request(CoapType.NonConfirmable, CoapCode.Post, coap.NextId(), "ps/dup/non");
        request.Payload = "once"u8.ToArray();
        var marker = CoapHarness.Request(CoapType.NonConfirmable, CoapCode.Post, coap.NextId(), "ps/dup/non");
        marker.Payload = "marker"u8.ToArray();

        await coap.SendAsync(request);
        await coap.SendAsync(request);
        await coap.SendAsync(marker);
        var replies = new List<CoapMessage>();
        while (!replies.Exists(r => r.MessageId != request.MessageId && r.Token.Span.SequenceEqual(marker.Token.Span)))
        {
            replies.Add(await coap.ReceiveAsync());
        }

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (subscriber.Received.Count < 2 && DateTime.UtcNow < deadline)
        {
            await subscriber.CollectAsync(200);
        }

        await subscriber.CollectAsync(300);
        Assert.Equal(["once", "marker"], subscriber.Received.Select(m => Encoding.UTF8.GetString(m.Payload.Span)));
    }

    [Fact]
    public async Task RFC7252_4_2_ResetToOurSeparateResponse_StopsItsRetransmission()
    {
        var gate = new GatedAuthenticator();
        await using var coap = await CoapHarness.StartAsync(authenticator: gate);
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/slow/reset");

        await coap.SendAsync(request);
        coap.Server.Tick(DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1.5));
        var ack = await coap.ReceiveAsync();
        Assert.Equal(CoapType.Acknowledgement, ack.Type);
        Assert.True(ack.IsEmpty);
        gate.Open();
        var separate = await coap.ReceiveAsync();
        Assert.Equal(CoapType.Confirmable, separate.Type);
        Assert.Equal(1, coap.Server.OutgoingCount);
        await coap.SendAsync(CoapCodec.EncodeEmpty(CoapType.Reset, separate.MessageId));

        // §4.2: a RST to a CON ends its retransmission, as an ACK does.
        await WaitUntilAsync(() => coap.Server.OutgoingCount == 0);
    }

    [Fact]
    public async Task RFC7641_4_3_2_RegistrationWithTheCurrentETag_Is203_AndRegisters()
    {
        await using var coap = await CoapHarness.StartAsync();
        await coap.Broker.PublishAsync(new Message("obs/etag", "v1"u8.ToArray(), QoS.AtMostOnce, true));
        var plain = await coap.ExchangeAsync(CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/obs/etag"));
        Assert.True(plain.TryGet(CoapOptionNumber.ETag, out var etag));
        var register = CoapHarness.Request(CoapType.NonConfirmable, CoapCode.Get, coap.NextId(), "ps/obs/etag");
        register.AddUInt(CoapOptionNumber.Observe, 0);
        register.Add(CoapOptionNumber.ETag, etag.Value);

        var valid = await coap.ExchangeAsync(register);
        await coap.Broker.PublishAsync(new Message("obs/etag", "v2"u8.ToArray(), QoS.AtMostOnce, true));
        var notification = await coap.ReceiveAsync();

        Assert.Equal(CoapCode.Valid, valid.Code);
        Assert.NotNull(valid.GetUInt(CoapOptionNumber.Observe));
        Assert.Equal("v2", Encoding.UTF8.GetString(notification.Payload.Span));
        Assert.Equal(register.Token.ToArray(), notification.Token.ToArray());
        Assert.True(notification.GetUInt(CoapOptionNumber.Observe) > valid.GetUInt(CoapOptionNumber.Observe));
    }

    [Fact]
    public async Task RFC7641_2_ObserveOnAnErrorResponse_IsAbsent_AndNothingIsRegistered()
    {
        await using var coap = await CoapHarness.StartAsync();
        var register = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/obs/#/bad");
        register.AddUInt(CoapOptionNumber.Observe, 0);

        var response = await coap.ExchangeAsync(register);

        Assert.Equal(CoapCode.BadRequest, response.Code);
        Assert.Null(response.GetUInt(CoapOptionNumber.Observe));
        Assert.Equal(0, coap.Server.ObservationCount);
    }

    [Fact]
    public async Task RFC7959_2_3_Block1_FinalResponse_EchoesTheLastBlock()
    {
        await using var coap = await CoapHarness.StartAsync();
        var body = Encoding.ASCII.GetBytes(new string('b', 40));
        CoapMessage? last = null;
        for (uint n = 0; n < 3; n++)
        {
            var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Put, coap.NextId(), "ps/echo/block1");
            var more = n < 2;
            request.AddUInt(CoapOptionNumber.Block1, new BlockOption(n, more, 0).Encode());
            request.Payload = body.AsMemory((int)n * 16, more ? 16 : 8);
            last = await coap.ExchangeAsync(request);
            Assert.Equal(more ? CoapCode.Continue : CoapCode.Created, last.Code);
        }

        Assert.True(BlockOption.TryDecode(last!.GetUInt(CoapOptionNumber.Block1)!.Value, out var echoed));
        Assert.Equal((2u, false), (echoed.Number, echoed.More));
        Assert.Equal(body, coap.Broker.Retained.Get("echo/block1")!.Payload.ToArray());
    }

    [Fact]
    public async Task RFC7641_4_1_NoObservationSlotFree_AnswersAsAPlainGet_WithoutObserve()
    {
        await using var coap = await CoapHarness.StartAsync(configure: o => o.MaxObservations = 1);
        await coap.Broker.PublishAsync(new Message("obs/full", "v"u8.ToArray(), QoS.AtMostOnce, true));
        var first = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/obs/full");
        first.AddUInt(CoapOptionNumber.Observe, 0);
        Assert.NotNull((await coap.ExchangeAsync(first)).GetUInt(CoapOptionNumber.Observe));

        var second = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/obs/full");
        second.AddUInt(CoapOptionNumber.Observe, 0);
        var plain = await coap.ExchangeAsync(second);
        var missing = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/obs/none");
        missing.AddUInt(CoapOptionNumber.Observe, 0);
        var notFound = await coap.ExchangeAsync(missing);

        Assert.Equal(CoapCode.Content, plain.Code);
        Assert.Equal("v", Encoding.UTF8.GetString(plain.Payload.Span));
        Assert.Null(plain.GetUInt(CoapOptionNumber.Observe));
        Assert.Equal(CoapCode.NotFound, notFound.Code); // a plain GET of nothing retained
        Assert.Null(notFound.GetUInt(CoapOptionNumber.Observe));
        Assert.Equal(1, coap.Server.ObservationCount);
    }

    [Fact]
    public async Task RFC7252_4_4_MessageIds_ArePerEndpoint_TrafficToOthersDoesNotAdvanceThem()
    {
        await using var coap = await CoapHarness.StartAsync();
        using var other = new System.Net.Sockets.UdpClient(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        other.Connect(coap.Server.LocalEndPoint!);
        var mine = CoapHarness.Request(CoapType.NonConfirmable, CoapCode.Get, coap.NextId(), "ps/ids/mine");
        mine.AddUInt(CoapOptionNumber.Observe, 0);
        await coap.ExchangeAsync(mine);
        var theirs = CoapHarness.Request(CoapType.NonConfirmable, CoapCode.Get, 0x1234, "ps/ids/theirs");
        theirs.AddUInt(CoapOptionNumber.Observe, 0);
        await other.SendAsync(CoapCodec.Encode(theirs));
        await other.ReceiveAsync(new CancellationTokenSource(10_000).Token);

        await coap.Broker.PublishAsync(new Message("ids/mine", "1"u8.ToArray(), QoS.AtMostOnce, false));
        var before = await coap.ReceiveAsync();
        for (var i = 0; i < 5; i++)
        {
            await coap.Broker.PublishAsync(new Message("ids/theirs", "x"u8.ToArray(), QoS.AtMostOnce, false));
            await other.ReceiveAsync(new CancellationTokenSource(10_000).Token);
        }

        await coap.Broker.PublishAsync(new Message("ids/mine", "2"u8.ToArray(), QoS.AtMostOnce, false));
        var after = await coap.ReceiveAsync();

        Assert.Equal((ushort)(before.MessageId + 1), after.MessageId);
    }

    [Fact]
    public async Task RFC7641_4_5_NonObserver_StillGetsConfirmableNotifications_AtTheConfiguredInterval()
    {
        // Coap:ConfirmableNotificationSeconds = 0: every notification is "due" a CON (the default is 60 s; RFC asks ≤ 24 h).
        await using var coap = await CoapHarness.StartAsync(configure: o => o.ConfirmableNotificationSeconds = 0);
        var register = CoapHarness.Request(CoapType.NonConfirmable, CoapCode.Get, coap.NextId(), "ps/obs/con");
        register.AddUInt(CoapOptionNumber.Observe, 0);
        await coap.ExchangeAsync(register);

        await coap.Broker.PublishAsync(new Message("obs/con", "c"u8.ToArray(), QoS.AtMostOnce, false));
        var notification = await coap.ReceiveAsync();
        await coap.SendAsync(CoapCodec.EncodeEmpty(CoapType.Acknowledgement, notification.MessageId));

        Assert.Equal(CoapType.Confirmable, notification.Type);
        await WaitUntilAsync(() => coap.Server.OutgoingCount == 0);
        Assert.Equal(1, coap.Server.ObservationCount); // acknowledged: the observer stays
    }

    [Fact]
    public async Task RFC7959_2_3_Block1_WithMore_MustCarryTheBlockSize_Else400()
    {
        await using var coap = await CoapHarness.StartAsync();
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Put, coap.NextId(), "ps/short/block");
        request.AddUInt(CoapOptionNumber.Block1, new BlockOption(0, true, 0).Encode()); // 16-byte blocks, more follow
        request.Payload = "only ten b"u8.ToArray();

        Assert.Equal(CoapCode.BadRequest, (await coap.ExchangeAsync(request)).Code);
        Assert.Null(coap.Broker.Retained.Get("short/block"));
    }

    [Fact]
    public async Task RFC7959_2_3_Block1_LateNegotiation_ServerAsksForSmallerBlocks()
    {
        await using var coap = await CoapHarness.StartAsync(configure: o => o.BlockSize = 32);
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Put, coap.NextId(), "ps/late/neg");
        request.AddUInt(CoapOptionNumber.Block1, new BlockOption(0, true, 2).Encode()); // 64-byte blocks
        request.Payload = new byte[64];

        var response = await coap.ExchangeAsync(request);

        Assert.Equal(CoapCode.Continue, response.Code);
        Assert.True(BlockOption.TryDecode(response.GetUInt(CoapOptionNumber.Block1)!.Value, out var block));
        Assert.Equal(32, block.Size); // the client continues with 32-byte blocks (NUM from the offset)
    }

    [Fact]
    public async Task RFC7959_4_Size2InABlockRequest_AsksForTheSize()
    {
        await using var coap = await CoapHarness.StartAsync();
        await coap.Broker.PublishAsync(new Message("sized", new byte[100], QoS.AtMostOnce, true));
        var request = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/sized");
        request.AddUInt(CoapOptionNumber.Block2, new BlockOption(2, false, 1).Encode()); // 32-byte blocks, the third
        request.AddUInt(CoapOptionNumber.Size2, 0);

        var response = await coap.ExchangeAsync(request);

        Assert.Equal(CoapCode.Content, response.Code);
        Assert.Equal(100u, response.GetUInt(CoapOptionNumber.Size2));
        Assert.Equal(32, response.Payload.Length);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 10 s");
            await Task.Delay(50);
        }
    }
}
