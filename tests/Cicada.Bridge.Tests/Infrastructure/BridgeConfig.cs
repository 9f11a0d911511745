namespace Cicada.Bridge.Tests.Infrastructure;

/// <summary>Bridge entries for the <c>Bridges</c> section of a test's configuration file.</summary>
public static class BridgeConfig
{
    /// <summary>A bridge that reconnects within a second, so restarts do not slow the tests down.</summary>
    public static object BridgeTo(string name, int remotePort, string version, params object[] topics) => new
    {
        Name = name,
        Address = $"127.0.0.1:{remotePort}",
        ProtocolVersion = version,
        KeepAliveSeconds = 10,
        ReconnectDelaySeconds = 1,
        MaxReconnectDelaySeconds = 1,
        Topics = topics,
    };

    public static object Topic(string pattern, string direction, int qos, string localPrefix = "", string remotePrefix = "") => new
    {
        Pattern = pattern,
        Direction = direction,
        Qos = qos,
        LocalPrefix = localPrefix,
        RemotePrefix = remotePrefix,
    };

    /// <summary>The debug line a bridge logs once its remote subscriptions are acknowledged and it forwards.</summary>
    public static string Forwarding(string name) => $"Bridge {name} forwarding";
}
