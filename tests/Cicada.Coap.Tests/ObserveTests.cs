using System.Text;
using Cicada.Coap.Protocol;
using Cicada.Core;

namespace Cicada.Coap.Tests;

/// <summary>RFC 7641 Observe, mapped onto Core subscriptions.</summary>
public sealed class ObserveTests
{
    private static CoapMessage Register(CoapHarness coap, string path, CoapType type = CoapType.Confirmable, params string[] query)
    {
        var request = CoapHarness.Request(type, CoapCode.Get, coap.NextId(), path, query);
        request.AddUInt(CoapOptionNumber.Observe, 0);
        return request;
    }

    private static Task PublishAsync(CoapHarness coap, string topic, string payload, bool retain = false) =>
        coap.Broker.PublishAsync(new Message(topic, Encoding.UTF8.GetBytes(payload), QoS.AtMostOnce, retain));

    [Fact]
    public async Task RFC7641_3_1_Register_BeforeAnythingRetained_Is205WithEmptyPayload_ThenANotificationPerMessage()
    {
        await using var coap = await CoapHarness.StartAsync();
        var register = Register(coap, "ps/obs/a", CoapType.NonConfirmable);

        var response = await coap.ExchangeAsync(register);
        await PublishAsync(coap, "obs/a", "one");
        var first = await coap.ReceiveAsync();
        await PublishAsync(coap, "obs/a", "two");
        var second = await coap.ReceiveAsync();

        Assert.Equal(CoapCode.Content, response.Code);
        Assert.True(response.Payload.IsEmpty);
        Assert.NotNull(response.GetUInt(CoapOptionNumber.Observe));
        Assert.Equal(["one", "two"], new[] { first, second }.Select(n => Encoding.UTF8.GetString(n.Payload.Span)));
        Assert.All(new[] { first, second }, n => Assert.Equal(register.Token.ToArray(), n.Token.ToArray()));
        Assert.All(new[] { first, second }, n => Assert.Equal(CoapType.NonConfirmable, n.Type)); // §4.5: NON observer, NON notifications
        // §4.4: sequence numbers increase.
        Assert.True(response.GetUInt(CoapOptionNumber.Observe) < first.GetUInt(CoapOptionNumber.Observe));
        Assert.True(first.GetUInt(CoapOptionNumber.Observe) < second.GetUInt(CoapOptionNumber.Observe));
    }

    [Fact]
    public async Task RFC7641_3_2_Graceful_stop_ends_every_observation_with_5_03()
    {
        await using var coap = await CoapHarness.StartAsync();
        var register = Register(coap, "ps/obs/stop", CoapType.NonConfirmable);
        Assert.Equal(CoapCode.Content, (await coap.ExchangeAsync(register)).Code);

        await coap.Server.StopAsync(CancellationToken.None);
        var end = await coap.ReceiveAsync();

        Assert.Equal(CoapCode.ServiceUnavailable, end.Code);
        Assert.Equal(register.Token.ToArray(), end.Token.ToArray());
        Assert.Null(end.GetUInt(CoapOptionNumber.Observe)); // a final response, not a notification
    }

    [Fact]
    public async Task RFC7641_4_5_ConfirmableRegistration_GetsConfirmableNotifications()
    {
        await using var coap = await CoapHarness.StartAsync();
        await PublishAsync(coap, "obs/con", "now", retain: true);

        var response = await coap.ExchangeAsync(Register(coap, "ps/obs/con"));
        await PublishAsync(coap, "obs/con", "next");
        var notification = await coap.ReceiveAsync();

        Assert.Equal("now", Encoding.UTF8.GetString(response.Payload.Span)); // the current value first
        Assert.Equal(CoapType.Confirmable, notification.Type);
        Assert.Equal("next", Encoding.UTF8.GetString(notification.Payload.Span));
    }

    [Fact]
    public async Task RFC7641_3_6_DeregisterWithObserve1_EndsNotifications()
    {
        await using var coap = await CoapHarness.StartAsync();
        var register = Register(coap, "ps/obs/d", CoapType.NonConfirmable);
        await coap.ExchangeAsync(register);
        var deregister = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/obs/d");
        deregister.Token = register.Token;
        deregister.AddUInt(CoapOptionNumber.Observe, 1);

        var response = await coap.ExchangeAsync(deregister);
        await PublishAsync(coap, "obs/d", "after");

        Assert.Equal(CoapCode.NotFound, response.Code); // answered as a plain GET
        Assert.Null(await coap.ReceiveBytesAsync(300));
        Assert.Equal(0, coap.Server.ObservationCount);
    }

    [Fact]
    public async Task RFC7641_3_6_ResetToANotification_Deregisters()
    {
        await using var coap = await CoapHarness.StartAsync();
        await coap.ExchangeAsync(Register(coap, "ps/obs/r", CoapType.NonConfirmable));
        await PublishAsync(coap, "obs/r", "1");
        var notification = await coap.ReceiveAsync();

        await coap.SendAsync(CoapCodec.EncodeEmpty(CoapType.Reset, notification.MessageId));
        await Task.Delay(200);
        await PublishAsync(coap, "obs/r", "2");

        Assert.Null(await coap.ReceiveBytesAsync(300));
        Assert.Equal(0, coap.Server.ObservationCount);
    }

    [Fact]
    public async Task ObserveFilter_WithWildcard_NotifiesRetainedThenLiveMessages()
    {
        await using var coap = await CoapHarness.StartAsync();
        await PublishAsync(coap, "house/a/temp", "ra", retain: true);

        var response = await coap.ExchangeAsync(Register(coap, "ps/house/+/temp", CoapType.NonConfirmable));
        var retained = await coap.ReceiveAsync();
        await PublishAsync(coap, "house/b/temp", "lb");
        var live = await coap.ReceiveAsync();

        Assert.Equal(CoapCode.Content, response.Code);
        Assert.Equal("ra", Encoding.UTF8.GetString(retained.Payload.Span));
        Assert.Equal("lb", Encoding.UTF8.GetString(live.Payload.Span));
    }

    [Fact]
    public async Task ObserverWithClientId_IsAConnectedCoreSession_UntilItDeregisters()
    {
        await using var coap = await CoapHarness.StartAsync();
        var register = Register(coap, "ps/obs/c", CoapType.NonConfirmable, "c=lamp-3");

        await coap.ExchangeAsync(register);
        var online = coap.Broker.TryGetSession("lamp-3", out var session);
        var filters = session?.Subscriptions.Keys.ToList();
        var deregister = CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), "ps/obs/c");
        deregister.Token = register.Token;
        deregister.AddUInt(CoapOptionNumber.Observe, 1);
        await coap.ExchangeAsync(deregister);

        Assert.True(online);
        Assert.Equal(["obs/c"], filters);
        Assert.False(coap.Broker.TryGetSession("lamp-3", out _));
    }

    [Fact]
    public async Task RFC7641_4_1_RegistrationDuplicate_IsOneObservation()
    {
        await using var coap = await CoapHarness.StartAsync();
        var register = Register(coap, "ps/obs/once");

        await coap.ExchangeAsync(register);
        var again = Register(coap, "ps/obs/once"); // a new request with the same token re-registers
        again.Token = register.Token;
        await coap.ExchangeAsync(again);
        await PublishAsync(coap, "obs/once", "x");
        var notification = await coap.ReceiveAsync();
        await coap.SendAsync(CoapCodec.EncodeEmpty(CoapType.Acknowledgement, notification.MessageId));

        Assert.Equal(1, coap.Server.ObservationCount);
        Assert.Null(await coap.ReceiveBytesAsync(300)); // one notification, not two
    }

    [Fact]
    public async Task RFC7641_4_1_RefusedCredentials_Are401_WithoutRegistration()
    {
        await using var coap = await CoapHarness.StartAsync(allowAnonymous: false);

        var response = await coap.ExchangeAsync(Register(coap, "ps/obs/locked"));

        Assert.Equal(CoapCode.Unauthorized, response.Code);
        Assert.Null(response.GetUInt(CoapOptionNumber.Observe));
        Assert.Equal(0, coap.Server.ObservationCount);
    }
}
