namespace Cicada.Core.Topics;

/// <summary>Options of one subscription; MQTT 5 §3.8.3.1 is the superset every edge maps onto.</summary>
public readonly record struct SubscriptionOptions(
    QoS MaxQos,
    bool NoLocal = false,
    bool RetainAsPublished = false,
    byte RetainHandling = 0,
    int SubscriptionId = 0);
