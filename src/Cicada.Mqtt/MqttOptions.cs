namespace Cicada.Mqtt;

/// <summary>MQTT edge settings (configuration section <c>Mqtt</c>).</summary>
public sealed class MqttOptions
{
    public const string Section = "Mqtt";

    /// <summary><c>HOST:PORT</c> or <c>off</c>.</summary>
    public string Listen { get; set; } = "0.0.0.0:1883";

    /// <summary>
    /// Largest packet accepted (fixed header included); MQTT's own ceiling is 268,435,455 + 5.
    /// Announced to MQTT 5 clients as Maximum Packet Size (§3.2.2.3.6).
    /// </summary>
    public int MaxPacketSize { get; set; } = 1024 * 1024;

    /// <summary>QoS 1/2 publishes a v5 client may have unacknowledged towards us (Receive Maximum, §3.2.2.3.3).</summary>
    public int ReceiveMaximum { get; set; } = 1024;

    /// <summary>Topic aliases a v5 client may use towards us (Topic Alias Maximum, §3.2.2.3.8); 0 disables them.</summary>
    public int TopicAliasMaximum { get; set; } = 64;

    /// <summary>
    /// Send topic aliases to v5 clients that allow them (§3.3.2.3.4). Off by default: the spec
    /// leaves it to the server, and several widely used client libraries cannot resolve them.
    /// </summary>
    public bool OutboundTopicAliases { get; set; }

    /// <summary>Largest keep-alive the broker accepts, in seconds; a longer or zero one is replaced and announced as Server Keep Alive (§3.2.2.3.14). 0 = accept any.</summary>
    public int MaxKeepAliveSeconds { get; set; }

    /// <summary>
    /// What carries the plain-TCP listener: <c>sockets</c> (the broker's own lean socket transport,
    /// a fraction of the memory per idle connection) or <c>kestrel</c> (ASP.NET Core's). TLS and
    /// WebSocket listeners always run on Kestrel.
    /// </summary>
    public string Transport { get; set; } = TransportSockets;

    public const string TransportSockets = "sockets";

    public const string TransportKestrel = "kestrel";
}
