using Cicada.Core.Topics;

namespace Cicada.Core.Storage;

/// <summary>
/// The durable mirror of Core's state. Every mutating call is queued in order on one writer and
/// the returned task completes once the change is durable (group commit); callers that must not
/// acknowledge before durability await it, others may ignore it. Implementations never throw from
/// the mutating calls synchronously; a failed write faults the task.
/// </summary>
public interface IBrokerStore : IRetainedStore, ISessionStore, IMessageQueueStore, IAsyncDisposable
{
    /// <summary>Creates/migrates the schema; called once before any other member.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);
}

public interface IRetainedStore
{
    Task<IReadOnlyList<Message>> LoadRetainedAsync(CancellationToken cancellationToken);

    /// <summary>Stores or replaces the retained message of <see cref="Message.Topic"/>.</summary>
    Task SetRetainedAsync(Message message);

    Task ClearRetainedAsync(string topic);
}

/// <summary>A persistent session as stored: header and subscriptions (queue and received ids apart).</summary>
public sealed record SessionRecord(
    string ClientId,
    uint ExpirySeconds,
    DateTimeOffset? DisconnectedAt,
    IReadOnlyList<SubscriptionRecord> Subscriptions,
    IReadOnlyList<int> ReceivedIds);

public sealed record SubscriptionRecord(string Filter, SubscriptionOptions Options);

public interface ISessionStore
{
    Task<IReadOnlyList<SessionRecord>> LoadSessionsAsync(CancellationToken cancellationToken);

    /// <summary>Upserts the session header (expiry, disconnected-at); subscriptions are left as they are.</summary>
    Task SaveSessionAsync(string clientId, uint expirySeconds, DateTimeOffset? disconnectedAt);

    /// <summary>Deletes the session with its subscriptions, queue and received ids.</summary>
    Task DeleteSessionAsync(string clientId);

    Task AddSubscriptionAsync(string clientId, SubscriptionRecord subscription);

    Task RemoveSubscriptionAsync(string clientId, string filter);

    /// <summary>Remembers an inbound exactly-once id (MQTT QoS 2 packet id before PUBREL, MQTT-4.3.3).</summary>
    Task AddReceivedIdAsync(string clientId, int id);

    Task RemoveReceivedIdAsync(string clientId, int id);
}

/// <summary>Delivery state of one queued message for one session.</summary>
public enum DeliveryState : byte
{
    /// <summary>Not yet sent (or sent on a connection that has gone, with no id kept).</summary>
    Queued = 0,

    /// <summary>Sent with <see cref="QueuedRecord.PacketId"/>, awaiting PUBACK / PUBREC.</summary>
    Sent = 1,

    /// <summary>PUBREC received, PUBREL sent: only PUBCOMP remains (MQTT-4.3.3).</summary>
    Released = 2,
}

public readonly record struct QueueTarget(string ClientId, long Seq, QoS Qos);

/// <summary>An inbound exactly-once id held by a session (MQTT QoS 2 packet id before PUBREL).</summary>
public readonly record struct ReceivedId(string ClientId, int Id);

public sealed record QueuedRecord(long Seq, Message Message, QoS Qos, int PacketId, DeliveryState State);

public interface IMessageQueueStore
{
    /// <summary>
    /// Stores <paramref name="message"/> once and one queue entry per target session: fan-out to
    /// many persistent sessions stores the payload once. Sets <see cref="Message.StoreId"/>
    /// before returning when it is 0; a message already stored (StoreId set) is not stored again.
    /// </summary>
    Task EnqueueAsync(Message message, IReadOnlyList<QueueTarget> targets);

    /// <summary>
    /// <see cref="EnqueueAsync(Message, IReadOnlyList{QueueTarget})"/> and
    /// <see cref="ISessionStore.AddReceivedIdAsync"/> as ONE atomic write: an inbound exactly-once
    /// id must never be durable without the message it guards, or a publisher re-sending after a
    /// crash would be told "received" for a message that was lost (MQTT-4.3.3-2).
    /// </summary>
    Task EnqueueAsync(Message message, IReadOnlyList<QueueTarget> targets, ReceivedId receivedId);

    Task UpdateDeliveryAsync(string clientId, long seq, int packetId, DeliveryState state);

    /// <summary>Removes an acknowledged (or dropped) entry; the message row goes when no entry refers to it.</summary>
    Task RemoveDeliveryAsync(string clientId, long seq);

    /// <summary>The session's entries in <see cref="QueuedRecord.Seq"/> order.</summary>
    Task<IReadOnlyList<QueuedRecord>> LoadQueueAsync(string clientId, CancellationToken cancellationToken);
}
