using Cicada.Core;
using Cicada.Core.Topics;

namespace Cicada.Bridge;

/// <summary>Which way a topic pattern carries messages.</summary>
[Flags]
public enum BridgeDirection
{
    /// <summary>Remote → local.</summary>
    In = 1,

    /// <summary>Local → remote.</summary>
    Out = 2,

    Both = In | Out,
}

/// <summary>
/// One topic pattern with mosquitto's semantics (mosquitto.conf(5), <c>topic</c>): the local
/// topic is <c>LocalPrefix + Pattern</c>, the remote one <c>RemotePrefix + Pattern</c>, so a
/// message changes prefix as it crosses and keeps the part the pattern matched. An empty pattern
/// makes the two prefixes whole topic names: one topic renamed.
/// </summary>
public sealed class TopicMapping(string pattern, BridgeDirection direction, QoS qos, string localPrefix, string remotePrefix)
{
    public string Pattern { get; } = pattern;
    public BridgeDirection Direction { get; } = direction;
    public QoS Qos { get; } = qos;
    public string LocalPrefix { get; } = localPrefix;
    public string RemotePrefix { get; } = remotePrefix;

    /// <summary>The filter the bridge subscribes to in Cicada (for <c>out</c>).</summary>
    public string LocalFilter => LocalPrefix + Pattern;

    /// <summary>The filter the bridge subscribes to at the remote (for <c>in</c>).</summary>
    public string RemoteFilter => RemotePrefix + Pattern;

    public bool IsIn => (Direction & BridgeDirection.In) != 0;

    public bool IsOut => (Direction & BridgeDirection.Out) != 0;

    /// <summary>The remote topic for a local one this pattern carries out; false when it does not match.</summary>
    public bool TryToRemote(string localTopic, out string remoteTopic) =>
        TryMap(localTopic, LocalFilter, LocalPrefix, RemotePrefix, out remoteTopic);

    /// <summary>The local topic for a remote one this pattern carries in; false when it does not match.</summary>
    public bool TryToLocal(string remoteTopic, out string localTopic) =>
        TryMap(remoteTopic, RemoteFilter, RemotePrefix, LocalPrefix, out localTopic);

    private bool TryMap(string topic, string filter, string fromPrefix, string toPrefix, out string mapped)
    {
        mapped = "";
        // "a/#" also matches "a" (MQTT-4.7.1-2): a topic shorter than the prefix has nothing to keep.
        if (!topic.StartsWith(fromPrefix, StringComparison.Ordinal) || !TopicValidator.Matches(filter, topic))
        {
            return false;
        }

        mapped = Pattern.Length == 0 ? toPrefix : toPrefix + topic[fromPrefix.Length..];
        return TopicValidator.IsValidTopicName(mapped);
    }

    public override string ToString() =>
        $"{(Pattern.Length == 0 ? "\"\"" : Pattern)} {Direction.ToString().ToLowerInvariant()} {(int)Qos} {LocalPrefix} {RemotePrefix}".TrimEnd();
}
