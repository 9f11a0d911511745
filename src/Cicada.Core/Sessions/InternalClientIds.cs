namespace Cicada.Core.Sessions;

/// <summary>
/// Client id namespaces of the sessions the broker's own services open in Core (bridges, device
/// registry subscribers, AMQP queues, HTTP event streams, CoAP observers and publishers). A
/// client connecting from outside with such an id would take over (MQTT-3.1.4-3) or squat the
/// service's session, so edges that let a client choose its id refuse these. Every prefix holds
/// a ':' (or starts with '$'), outside the 0-9a-zA-Z ids a server must accept (MQTT-3.1.3-5), so
/// refusing them is allowed (MQTT-3.1.3-9).
/// </summary>
public static class InternalClientIds
{
    /// <summary>The reserved prefixes, as the README lists them.</summary>
    public static IReadOnlyList<string> ReservedPrefixes { get; } = ["bridge:", "$devices:", "amqp:", "sse:", "coap:"];

    /// <summary>True when <paramref name="clientId"/> is in a namespace of the broker's own sessions.</summary>
    public static bool IsReserved(string clientId)
    {
        foreach (var prefix in ReservedPrefixes)
        {
            if (clientId.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
