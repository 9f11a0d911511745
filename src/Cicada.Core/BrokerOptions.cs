namespace Cicada.Core;

/// <summary>Protocol-independent broker settings (configuration section <c>Broker</c>).</summary>
public sealed class BrokerOptions
{
    public const string Section = "Broker";

    /// <summary>
    /// Messages kept per session while its client is slow or offline; overflow drops the oldest,
    /// counts it (<c>cicada.messages.dropped</c>) and logs once per episode.
    /// </summary>
    public int MaxQueuedMessages { get; set; } = 100_000;

    /// <summary>
    /// Payload bytes kept per session (pending, not yet in flight) with the same drop-oldest
    /// policy; 0 = no byte limit. The newest message is always kept, even one larger than this.
    /// </summary>
    public long MaxQueuedBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Unacknowledged QoS 1/2 deliveries in flight per connection.</summary>
    public int MaxInflight { get; set; } = 100;

    /// <summary>Seconds a new connection has to identify itself (MQTT CONNECT, AMQP handshake).</summary>
    public int ConnectTimeoutSeconds { get; set; } = 10;
}

/// <summary>Authentication settings (configuration section <c>Auth</c>).</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>Clients without a username may connect.</summary>
    public bool AllowAnonymous { get; set; } = true;

    /// <summary>Users file (<c>user:$pbkdf2-sha512$…</c> lines, written by <c>cicada passwd</c>); none = no users.</summary>
    public string? UsersFile { get; set; }

    /// <summary>
    /// Absolute http/https URL of an authentication hook, asked (POST, JSON) about every username the
    /// users file does not hold; none = no hook (<see cref="Auth.HttpHookAuthenticator"/>).
    /// </summary>
    public string? HookUrl { get; set; }

    /// <summary>How long one hook call may take before the login is refused (fail closed).</summary>
    public int HookTimeoutMilliseconds { get; set; } = 2000;

    /// <summary>How long a hook's answer (allow or deny) is reused for the same credentials; 0 = ask every time.</summary>
    public int HookCacheSeconds { get; set; } = 60;
}
