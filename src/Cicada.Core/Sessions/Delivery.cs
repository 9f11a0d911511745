using Cicada.Core.Storage;

namespace Cicada.Core.Sessions;

/// <summary>
/// One message on its way to one session: a reference to the shared message plus what differs per
/// subscriber. A struct, so queueing costs no allocation per subscriber.
/// </summary>
/// <param name="Seq">Position in the session's durable queue; 0 when the delivery is not stored.</param>
/// <param name="Via">The subscription that matched (its identifier, its share group); null for
/// retained deliveries and for deliveries restored from the store.</param>
/// <param name="MoreSubscriptionIds">Identifiers of further overlapping subscriptions merged into
/// this one copy (MQTT-3.3.4-5); null in the common case.</param>
public readonly record struct Delivery(Message Message, QoS Qos, bool Retain, long Seq,
    Topics.Subscription? Via = null, int[]? MoreSubscriptionIds = null);

/// <summary>A QoS 1/2 delivery sent and not yet fully acknowledged (MQTT-4.3.2, MQTT-4.3.3).</summary>
public readonly record struct InflightDelivery(int Id, Delivery Delivery, DeliveryState State, long Order);

/// <summary>Why Core asks an edge to close a connection.</summary>
public enum CloseReason
{
    /// <summary>Another connection connected with the same client id (MQTT-3.1.4-2).</summary>
    SessionTakenOver,

    /// <summary>The broker is shutting down.</summary>
    ServerShuttingDown,
}

/// <summary>What Core needs from an edge's connection: a wake-up and a way to close it.</summary>
public interface IClientConnection
{
    /// <summary>The session has deliveries pending. Called from any thread; must not block.</summary>
    void OnDeliveriesPending();

    /// <summary>Closes the connection for <paramref name="reason"/>; the edge then calls <see cref="Broker.Disconnect"/>.</summary>
    void Close(CloseReason reason);
}
