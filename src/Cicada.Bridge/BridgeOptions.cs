namespace Cicada.Bridge;

/// <summary>
/// One bridge to another MQTT broker (configuration section <c>Bridges</c>, an array), the
/// counterpart of a mosquitto <c>connection</c> block.
/// </summary>
public sealed class BridgeOptions
{
    public const string Section = "Bridges";

    /// <summary>Names the bridge in logs and metrics, and its Core session (<c>bridge:NAME</c>).</summary>
    public string Name { get; set; } = "";

    /// <summary>The remote broker, <c>HOST:PORT</c> (mosquitto's <c>address</c>); a bracketed IPv6 address is allowed.</summary>
    public string Address { get; set; } = "";

    /// <summary>Connect with TLS (mosquitto's <c>bridge_cafile</c> / <c>bridge_insecure</c> family).</summary>
    public bool Tls { get; set; }

    /// <summary>CA certificates (PEM) the remote's certificate must chain to; the system trust store when unset.</summary>
    public string? CaFile { get; set; }

    /// <summary>Accept any remote certificate (development only: anyone can then impersonate the remote).</summary>
    public bool TlsInsecureSkipVerify { get; set; }

    public string? Username { get; set; }

    public string? Password { get; set; }

    /// <summary>Client id at the remote; <c>cicada-bridge-NAME</c> when unset.</summary>
    public string? ClientId { get; set; }

    /// <summary><c>3.1.1</c> or <c>5</c>.</summary>
    public string ProtocolVersion { get; set; } = "3.1.1";

    /// <summary>
    /// Start a clean session at the remote on every connection. False (mosquitto's default): the
    /// remote keeps the bridge's subscriptions and queues QoS 1/2 messages while Cicada is away.
    /// </summary>
    public bool CleanSession { get; set; }

    public int KeepAliveSeconds { get; set; } = 60;

    /// <summary>First delay before reconnecting; doubled after each failed attempt up to <see cref="MaxReconnectDelaySeconds"/>.</summary>
    public int ReconnectDelaySeconds { get; set; } = 1;

    public int MaxReconnectDelaySeconds { get; set; } = 60;

    public List<BridgeTopicOptions> Topics { get; set; } = [];
}

/// <summary>
/// One <c>topic pattern direction qos local-prefix remote-prefix</c> line of mosquitto: the local
/// topic is <c>LocalPrefix + Pattern</c>, the remote one <c>RemotePrefix + Pattern</c>.
/// </summary>
public sealed class BridgeTopicOptions
{
    /// <summary>A topic filter; empty when the prefixes are whole topic names (a one-topic remap).</summary>
    public string Pattern { get; set; } = "";

    /// <summary><c>out</c> (local → remote, the default), <c>in</c> (remote → local) or <c>both</c>.</summary>
    public string Direction { get; set; } = "out";

    /// <summary>Highest QoS of the bridge's subscription (0, 1 or 2).</summary>
    public int Qos { get; set; }

    public string LocalPrefix { get; set; } = "";

    public string RemotePrefix { get; set; } = "";
}
