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
}
