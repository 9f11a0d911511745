using Cicada.Core;
using Cicada.Core.Storage;
using Cicada.Core.Topics;

namespace Cicada.Storage.Sqlite.Tests;

/// <summary>
/// The <see cref="IBrokerStore"/> contract. Every store runs these same cases through a derived
/// class; store-specific checks (files, reopen, SQL) live in the derived classes.
/// </summary>
public abstract partial class BrokerStoreContractTests : IAsyncLifetime
{
    protected static readonly CancellationToken None = CancellationToken.None;

    protected IBrokerStore Store { get; private set; } = null!;

    /// <summary>A fresh store over this test's backing (the same backing every call, for reopen tests).</summary>
    protected abstract IBrokerStore CreateStore();

    public virtual async Task InitializeAsync()
    {
        Store = CreateStore();
        await Store.InitializeAsync(None);
    }

    public virtual async Task DisposeAsync() => await Store.DisposeAsync();

    /// <summary>Replaces <see cref="Store"/> (after the derived class disposed the old one).</summary>
    protected void UseStore(IBrokerStore store) => Store = store;

    protected async Task<SessionRecord?> LoadSessionAsync(string clientId) =>
        (await Store.LoadSessionsAsync(None)).SingleOrDefault(s => s.ClientId == clientId);

    // ---- retained ----

    [Fact]
    public async Task Retained_Set_RoundTripsEveryField()
    {
        var message = StoreAssert.FullMessage("home/kitchen/temp");
        await Store.SetRetainedAsync(message);

        var loaded = Assert.Single(await Store.LoadRetainedAsync(None));
        StoreAssert.SameMessage(message, loaded);
    }

    [Fact]
    public async Task Retained_WithoutProperties_EmptyPayload_RoundTrips()
    {
        var message = new Message("a/b", ReadOnlyMemory<byte>.Empty, QoS.AtMostOnce, retain: true);
        await Store.SetRetainedAsync(message);

        var loaded = Assert.Single(await Store.LoadRetainedAsync(None));
        StoreAssert.SameMessage(message, loaded);
        Assert.Equal(0, loaded.Payload.Length);
    }

    [Fact]
    public async Task Retained_PropertiesWithOnlySomeFields_RoundTrip()
    {
        var message = new Message("a/b", new byte[] { 1 }, QoS.AtLeastOnce, true,
            new MessageProperties { PayloadIsUtf8 = true, UserProperties = [] });
        await Store.SetRetainedAsync(message);

        var loaded = Assert.Single(await Store.LoadRetainedAsync(None));
        StoreAssert.SameMessage(message, loaded);
        Assert.Empty(loaded.Properties!.UserProperties!);
        Assert.Null(loaded.Properties.ContentType);
    }

    [Fact]
    public async Task Retained_SetOnSameTopic_ReplacesThePrevious_MQTT_3_3_1_5()
    {
        await Store.SetRetainedAsync(StoreAssert.FullMessage("t", "old"));
        await Store.SetRetainedAsync(StoreAssert.BareMessage("other", "keep"));
        var replacement = StoreAssert.BareMessage("t", "new", QoS.AtMostOnce);
        await Store.SetRetainedAsync(replacement);

        var loaded = await Store.LoadRetainedAsync(None);
        Assert.Equal(2, loaded.Count);
        StoreAssert.SameMessage(replacement, loaded.Single(m => m.Topic == "t"));
    }

    [Fact]
    public async Task Retained_Clear_DeletesOnlyThatTopic_MQTT_3_3_1_6()
    {
        await Store.SetRetainedAsync(StoreAssert.BareMessage("a"));
        await Store.SetRetainedAsync(StoreAssert.BareMessage("b"));
        await Store.ClearRetainedAsync("a");
        await Store.ClearRetainedAsync("never-set");

        Assert.Equal(["b"], (await Store.LoadRetainedAsync(None)).Select(m => m.Topic));
    }

    // ---- sessions ----

    [Fact]
    public async Task Session_Save_RoundTripsHeader()
    {
        var disconnectedAt = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.FromHours(-5)).AddTicks(77);
        await Store.SaveSessionAsync("c1", uint.MaxValue, disconnectedAt);
        await Store.SaveSessionAsync("c2", 0, null);

        var sessions = await Store.LoadSessionsAsync(None);
        Assert.Equal(["c1", "c2"], sessions.Select(s => s.ClientId));
        Assert.Equal(uint.MaxValue, sessions[0].ExpirySeconds);
        Assert.Equal(disconnectedAt, sessions[0].DisconnectedAt);
        Assert.Equal(0u, sessions[1].ExpirySeconds);
        Assert.Null(sessions[1].DisconnectedAt);
        Assert.Empty(sessions[1].Subscriptions);
        Assert.Empty(sessions[1].ReceivedIds);
    }

    [Fact]
    public async Task Session_SaveAgain_UpsertsHeader_KeepsSubscriptions()
    {
        await Store.SaveSessionAsync("c", 60, null);
        await Store.AddSubscriptionAsync("c", new SubscriptionRecord("a/#", new SubscriptionOptions(QoS.AtLeastOnce)));
        await Store.SaveSessionAsync("c", 120, DateTimeOffset.UnixEpoch);

        var session = Assert.Single(await Store.LoadSessionsAsync(None));
        Assert.Equal(120u, session.ExpirySeconds);
        Assert.Equal(DateTimeOffset.UnixEpoch, session.DisconnectedAt);
        Assert.Equal("a/#", Assert.Single(session.Subscriptions).Filter);
    }

    [Fact]
    public async Task Subscription_RoundTripsEveryOption_MQTT5_3_8_3_1()
    {
        var all = new SubscriptionRecord("home/+/temp", new SubscriptionOptions(QoS.ExactlyOnce, NoLocal: true,
            RetainAsPublished: true, RetainHandling: 2, SubscriptionId: 268_435_455));
        var plain = new SubscriptionRecord("#", new SubscriptionOptions(QoS.AtMostOnce));
        await Store.SaveSessionAsync("c", 10, null);
        await Store.AddSubscriptionAsync("c", all);
        await Store.AddSubscriptionAsync("c", plain);

        var session = Assert.Single(await Store.LoadSessionsAsync(None));
        Assert.Equal([plain, all], session.Subscriptions.OrderBy(s => s.Filter, StringComparer.Ordinal));
    }

    [Fact]
    public async Task Subscription_AddSameFilter_ReplacesOptions_MQTT_3_8_4_3()
    {
        await Store.AddSubscriptionAsync("c", new SubscriptionRecord("a/b", new SubscriptionOptions(QoS.AtMostOnce)));
        var replacement = new SubscriptionRecord("a/b", new SubscriptionOptions(QoS.ExactlyOnce, NoLocal: true));
        await Store.AddSubscriptionAsync("c", replacement);

        var session = Assert.Single(await Store.LoadSessionsAsync(None));
        Assert.Equal(replacement, Assert.Single(session.Subscriptions));
    }

    [Fact]
    public async Task Subscription_Remove_DeletesOnlyThatFilter()
    {
        await Store.SaveSessionAsync("c", 10, null);
        await Store.AddSubscriptionAsync("c", new SubscriptionRecord("a", new SubscriptionOptions(QoS.AtMostOnce)));
        await Store.AddSubscriptionAsync("c", new SubscriptionRecord("b", new SubscriptionOptions(QoS.AtMostOnce)));
        await Store.AddSubscriptionAsync("d", new SubscriptionRecord("a", new SubscriptionOptions(QoS.AtMostOnce)));
        await Store.RemoveSubscriptionAsync("c", "a");
        await Store.RemoveSubscriptionAsync("c", "not-there");

        var sessions = await Store.LoadSessionsAsync(None);
        Assert.Equal(["b"], sessions.Single(s => s.ClientId == "c").Subscriptions.Select(s => s.Filter));
        Assert.Equal(["a"], sessions.Single(s => s.ClientId == "d").Subscriptions.Select(s => s.Filter));
    }

    [Fact]
    public async Task ReceivedIds_AddIsIdempotent_RemoveDeletes_MQTT_4_3_3()
    {
        await Store.SaveSessionAsync("c", 10, null);
        await Store.AddReceivedIdAsync("c", 7);
        await Store.AddReceivedIdAsync("c", 7);
        await Store.AddReceivedIdAsync("c", 65535);
        await Store.AddReceivedIdAsync("c", 1);
        await Store.RemoveReceivedIdAsync("c", 1);
        await Store.RemoveReceivedIdAsync("c", 2);

        var session = Assert.Single(await Store.LoadSessionsAsync(None));
        Assert.Equal([7, 65535], session.ReceivedIds.Order());
    }

    [Fact]
    public async Task Session_ContentBeforeHeader_LoadsWithDefaultHeader_AndVanishesWhenEmptied()
    {
        await Store.AddSubscriptionAsync("early", new SubscriptionRecord("x", new SubscriptionOptions(QoS.AtLeastOnce)));
        await Store.AddReceivedIdAsync("ids-only", 3);

        var sessions = await Store.LoadSessionsAsync(None);
        Assert.Equal(["early", "ids-only"], sessions.Select(s => s.ClientId));
        Assert.All(sessions, s => Assert.Equal(0u, s.ExpirySeconds));
        Assert.All(sessions, s => Assert.Null(s.DisconnectedAt));

        // No header was created along the way: once the content goes, so does the session.
        await Store.RemoveSubscriptionAsync("early", "x");
        await Store.RemoveReceivedIdAsync("ids-only", 3);
        Assert.Empty(await Store.LoadSessionsAsync(None));

        // A header saved later joins the content stored before it.
        await Store.AddReceivedIdAsync("late", 9);
        await Store.SaveSessionAsync("late", 30, null);
        var late = Assert.Single(await Store.LoadSessionsAsync(None));
        Assert.Equal(30u, late.ExpirySeconds);
        Assert.Equal([9], late.ReceivedIds);
    }

    [Fact]
    public async Task Session_WithOnlyQueueEntries_IsLoaded()
    {
        await Store.EnqueueAsync(StoreAssert.BareMessage("t"), [new QueueTarget("queued-only", 1, QoS.AtLeastOnce)]);

        var session = Assert.Single(await Store.LoadSessionsAsync(None));
        Assert.Equal("queued-only", session.ClientId);
        Assert.Equal(0u, session.ExpirySeconds);
    }

    [Fact]
    public async Task Session_OperationsOnUnknownSession_DoNotFail()
    {
        await Store.RemoveSubscriptionAsync("nobody", "a");
        await Store.RemoveReceivedIdAsync("nobody", 1);
        await Store.UpdateDeliveryAsync("nobody", 1, 5, DeliveryState.Sent);
        await Store.RemoveDeliveryAsync("nobody", 1);
        await Store.DeleteSessionAsync("nobody");

        Assert.Empty(await Store.LoadSessionsAsync(None));
        Assert.Empty(await Store.LoadQueueAsync("nobody", None));
    }

    [Fact]
    public async Task DeleteSession_RemovesHeaderSubscriptionsQueueAndReceivedIds_MQTT_3_1_2_4()
    {
        var shared = StoreAssert.FullMessage("t");
        foreach (var id in new[] { "gone", "kept" })
        {
            await Store.SaveSessionAsync(id, 100, null);
            await Store.AddSubscriptionAsync(id, new SubscriptionRecord("t", new SubscriptionOptions(QoS.ExactlyOnce)));
            await Store.AddReceivedIdAsync(id, 4);
        }

        await Store.EnqueueAsync(shared, [new QueueTarget("gone", 1, QoS.ExactlyOnce), new QueueTarget("kept", 1, QoS.AtLeastOnce)]);
        await Store.EnqueueAsync(StoreAssert.BareMessage("only-gone"), [new QueueTarget("gone", 2, QoS.AtLeastOnce)]);

        await Store.DeleteSessionAsync("gone");

        var session = Assert.Single(await Store.LoadSessionsAsync(None));
        Assert.Equal("kept", session.ClientId);
        Assert.Single(session.Subscriptions);
        Assert.Equal([4], session.ReceivedIds);
        Assert.Empty(await Store.LoadQueueAsync("gone", None));
        var kept = Assert.Single(await Store.LoadQueueAsync("kept", None));
        StoreAssert.SameMessage(shared, kept.Message);
        Assert.Equal(QoS.AtLeastOnce, kept.Qos);
    }
}
