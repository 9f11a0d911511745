namespace Cicada.Testing;

/// <summary>
/// Bounds for every wait in the suite. They are generous because the machine is shared and several
/// brokers start at once; a passing run never waits for them, only a failing one does.
/// </summary>
public static class Timeouts
{
    public static readonly TimeSpan BrokerStart = TimeSpan.FromSeconds(30);

    public static readonly TimeSpan Connect = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan Packet = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan Close = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan ExternalClient = TimeSpan.FromSeconds(30);

    /// <summary>A wait for a condition (a log line, a message, a reconnect) that a passing run meets at once.</summary>
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a negative test listens for something that must not arrive after its sentinel has.
    /// The sentinel already orders things (MQTT-4.6.0-6); this only widens the margin.
    /// </summary>
    public static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);
}
