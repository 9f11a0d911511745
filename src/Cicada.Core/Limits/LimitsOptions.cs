namespace Cicada.Core.Limits;

/// <summary>Protective limits every edge applies (configuration section <c>Limits</c>); 0 = no limit.</summary>
public sealed class LimitsOptions
{
    public const string Section = "Limits";

    /// <summary>Open client connections, all edges and listeners together.</summary>
    public int MaxConnections { get; set; }

    /// <summary>Open client connections from one IP address.</summary>
    public int MaxConnectionsPerIp { get; set; }

    /// <summary>Subscriptions one session may hold.</summary>
    public int MaxSubscriptionsPerClient { get; set; }

    /// <summary>Levels ('/'-separated parts) of a topic name or filter.</summary>
    public int MaxTopicLevels { get; set; }

    /// <summary>Length of a topic name or filter, in UTF-8 bytes.</summary>
    public int MaxTopicLength { get; set; }

    /// <summary>
    /// Publishes one client connection may send a second, averaged by a token bucket (every edge;
    /// HTTP counts per IP address). Over it: MQTT 5 DISCONNECT 0x96, MQTT 3.1.1 close, AMQP
    /// channel.close 406, CoAP 4.29, HTTP 429 with Retry-After.
    /// </summary>
    public int MaxPublishesPerSecond { get; set; }

    /// <summary>Publishes a client may send at once above the rate (the bucket size); 0 = one second's worth.</summary>
    public int PublishBurst { get; set; }

    /// <summary>HTTP requests one IP address may make a second (token bucket); over it: 429 with Retry-After.</summary>
    public int MaxHttpRequestsPerSecond { get; set; }

    /// <summary>HTTP requests above the rate one IP address may make at once; 0 = one second's worth.</summary>
    public int HttpRequestBurst { get; set; }
}
