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

    /// <summary>
    /// What happens when publishers outpace a connected subscriber: <c>backpressure</c> (default)
    /// makes a publish that finds the session's queue at half its limits wait until the queue has
    /// drained to a quarter, or <see cref="BackpressureMaxWaitMilliseconds"/> passed, so an edge that
    /// awaits its publishes stops reading its socket and the publisher is slowed by TCP instead of
    /// its messages being dropped; a session that took nothing during such a wait is stuck and gets
    /// drop-oldest until it takes again. <c>drop-oldest</c> never makes a publisher wait.
    /// Either way the queue limits above stay hard bounds.
    /// </summary>
    public string OverflowPolicy { get; set; } = OverflowPolicies.Backpressure;

    /// <summary>The longest one publish waits for a slow subscriber's queue under the <c>backpressure</c> policy.</summary>
    public int BackpressureMaxWaitMilliseconds { get; set; } = 1000;

    /// <summary>Unacknowledged QoS 1/2 deliveries in flight per connection.</summary>
    public int MaxInflight { get; set; } = 100;

    /// <summary>Seconds a new connection has to identify itself (MQTT CONNECT, AMQP handshake).</summary>
    public int ConnectTimeoutSeconds { get; set; } = 10;
}

/// <summary>The values of <see cref="BrokerOptions.OverflowPolicy"/>.</summary>
public static class OverflowPolicies
{
    public const string Backpressure = "backpressure";
    public const string DropOldest = "drop-oldest";

    public static bool IsKnown(string? value) =>
        string.Equals(value, Backpressure, StringComparison.OrdinalIgnoreCase)
        || string.Equals(value, DropOldest, StringComparison.OrdinalIgnoreCase);

    /// <summary>True for <c>backpressure</c> (the default when unset).</summary>
    public static bool IsBackpressure(string? value) =>
        value is null || string.Equals(value, Backpressure, StringComparison.OrdinalIgnoreCase);
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
