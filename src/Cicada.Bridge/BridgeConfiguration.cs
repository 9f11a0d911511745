using System.Globalization;
using Cicada.Core;
using Cicada.Core.Topics;
using Microsoft.Extensions.Configuration;

namespace Cicada.Bridge;

/// <summary>
/// Reads and checks the <c>Bridges</c> section: every problem as <c>KEY: 'VALUE' REASON</c>, the
/// form the server prints before it exits with code 2.
/// </summary>
public static class BridgeConfiguration
{
    /// <summary>Keys of one bridge (the binder's property names).</summary>
    public static IReadOnlyList<string> BridgeKeys { get; } =
    [
        nameof(BridgeOptions.Name), nameof(BridgeOptions.Address), nameof(BridgeOptions.Tls), nameof(BridgeOptions.CaFile),
        nameof(BridgeOptions.TlsInsecureSkipVerify), nameof(BridgeOptions.Username), nameof(BridgeOptions.Password),
        nameof(BridgeOptions.ClientId), nameof(BridgeOptions.ProtocolVersion), nameof(BridgeOptions.CleanSession),
        nameof(BridgeOptions.KeepAliveSeconds), nameof(BridgeOptions.ReconnectDelaySeconds),
        nameof(BridgeOptions.MaxReconnectDelaySeconds), nameof(BridgeOptions.Topics),
    ];

    /// <summary>Keys of one topic pattern.</summary>
    public static IReadOnlyList<string> TopicKeys { get; } =
    [
        nameof(BridgeTopicOptions.Pattern), nameof(BridgeTopicOptions.Direction), nameof(BridgeTopicOptions.Qos),
        nameof(BridgeTopicOptions.LocalPrefix), nameof(BridgeTopicOptions.RemotePrefix),
    ];

    /// <summary>Every key as the documentation writes it (<c>Bridges:N:Name</c>, <c>Bridges:N:Topics:M:Pattern</c>).</summary>
    public static IReadOnlyList<string> DocumentedKeys { get; } =
    [
        .. BridgeKeys.Where(k => k != nameof(BridgeOptions.Topics)).Select(k => $"{BridgeOptions.Section}:N:{k}"),
        .. TopicKeys.Select(k => $"{BridgeOptions.Section}:N:{nameof(BridgeOptions.Topics)}:M:{k}"),
    ];

    /// <summary>Problems in the <c>Bridges</c> section; empty when every bridge is usable.</summary>
    public static IReadOnlyList<string> Validate(IConfiguration configuration)
    {
        Read(configuration, out var problems);
        return problems;
    }

    /// <summary>The bridges configured; <paramref name="problems"/> lists what is wrong (those bridges are left out).</summary>
    public static IReadOnlyList<BridgeSettings> Read(IConfiguration configuration, out List<string> problems)
    {
        problems = [];
        var section = configuration.GetSection(BridgeOptions.Section);
        if (section.Value is { Length: > 0 } scalar)
        {
            problems.Add($"{section.Path}: '{scalar}' is not an array of bridges");
            return [];
        }

        var bridges = new List<BridgeSettings>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var child in section.GetChildren())
        {
            var before = problems.Count;
            CheckKeys(child, BridgeKeys, problems);
            foreach (var topic in child.GetSection(nameof(BridgeOptions.Topics)).GetChildren())
            {
                CheckKeys(topic, TopicKeys, problems);
            }

            if (problems.Count > before)
            {
                continue;
            }

            var options = new BridgeOptions();
            child.Bind(options);
            if (TryCreate(child.Path, options, problems) is { } bridge)
            {
                if (!names.Add(bridge.Name))
                {
                    problems.Add($"{child.Path}:{nameof(BridgeOptions.Name)}: '{bridge.Name}' names two bridges: a bridge's name is its session's identity");
                    continue;
                }

                bridges.Add(bridge);
            }
        }

        return bridges;
    }

    private static readonly HashSet<string> WholeNumberKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        nameof(BridgeOptions.KeepAliveSeconds), nameof(BridgeOptions.ReconnectDelaySeconds),
        nameof(BridgeOptions.MaxReconnectDelaySeconds), nameof(BridgeTopicOptions.Qos),
    };

    private static readonly HashSet<string> BooleanKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        nameof(BridgeOptions.Tls), nameof(BridgeOptions.TlsInsecureSkipVerify), nameof(BridgeOptions.CleanSession),
    };

    /// <summary>Unknown keys, and values the binder could not convert (it would throw instead of naming the key).</summary>
    private static void CheckKeys(IConfigurationSection element, IReadOnlyList<string> keys, List<string> problems)
    {
        if (element.Value is { } value)
        {
            problems.Add($"{element.Path}: '{value}' is a single value, not a section with {string.Join(", ", keys)}");
            return;
        }

        foreach (var key in element.GetChildren())
        {
            if (!keys.Contains(key.Key, StringComparer.OrdinalIgnoreCase))
            {
                problems.Add($"{key.Path}: unknown key (a bridge{(ReferenceEquals(keys, TopicKeys) ? " topic" : "")} has {string.Join(", ", keys.Order(StringComparer.Ordinal))})");
                continue;
            }

            var isTopics = key.Key.Equals(nameof(BridgeOptions.Topics), StringComparison.OrdinalIgnoreCase) && ReferenceEquals(keys, BridgeKeys);
            if (isTopics ? key.Value is { Length: > 0 } : key.Value is null && key.GetChildren().Any())
            {
                problems.Add($"{key.Path}: expected {(isTopics ? "an array of topic patterns" : "a single value, not a section")}");
            }
            else if (WholeNumberKeys.Contains(key.Key) && key.Value is { } number
                && !int.TryParse(number, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
            {
                problems.Add($"{key.Path}: '{number}' is not a whole number");
            }
            else if (BooleanKeys.Contains(key.Key) && key.Value is { } flag && !bool.TryParse(flag, out _))
            {
                problems.Add($"{key.Path}: '{flag}' is not true or false");
            }
        }
    }

    /// <summary>Checks one bound bridge; null (with problems added) when it cannot run.</summary>
    public static BridgeSettings? TryCreate(string path, BridgeOptions options, List<string> problems)
    {
        var before = problems.Count;
        void Problem(string key, object? value, string reason) =>
            problems.Add($"{path}:{key}: '{Convert.ToString(value, CultureInfo.InvariantCulture)}' {reason}");

        if (options.Name.Length == 0 || options.Name.AsSpan().IndexOfAny("/+#\0") >= 0)
        {
            Problem(nameof(options.Name), options.Name, "is not a bridge name: one or more characters, none of / + # (it names the bridge's session and metrics)");
        }

        if (!TryParseAddress(options.Address, out var host, out var port))
        {
            Problem(nameof(options.Address), options.Address, "is not HOST:PORT (a host name or IPv4 address, or [IPv6], and a port from 1 to 65535)");
        }

        if (options.CaFile is { Length: > 0 } caFile && !File.Exists(caFile))
        {
            Problem(nameof(options.CaFile), caFile, "does not exist");
        }

        var v5 = options.ProtocolVersion switch
        {
            "3.1.1" or "311" or "4" => false,
            "5" or "5.0" => true,
            _ => (bool?)null,
        };
        if (v5 is null)
        {
            Problem(nameof(options.ProtocolVersion), options.ProtocolVersion, "is not 3.1.1 or 5");
        }

        var clientId = string.IsNullOrEmpty(options.ClientId) ? "cicada-bridge-" + options.Name : options.ClientId;
        if (clientId.Contains('\0', StringComparison.Ordinal) || System.Text.Encoding.UTF8.GetByteCount(clientId) > TopicValidator.MaxTopicBytes)
        {
            Problem(nameof(options.ClientId), clientId, "is not a client identifier: a UTF-8 string without U+0000 (MQTT-1.5.3-2)");
        }

        if (options.KeepAliveSeconds is < 0 or > ushort.MaxValue)
        {
            Problem(nameof(options.KeepAliveSeconds), options.KeepAliveSeconds, "is not a whole number from 0 to 65535: Keep Alive is a 16-bit number of seconds, 0 = none (MQTT-3.1.2-10)");
        }

        if (options.ReconnectDelaySeconds is < 1 or > 3600)
        {
            Problem(nameof(options.ReconnectDelaySeconds), options.ReconnectDelaySeconds, "is not a whole number from 1 to 3600: the first wait before reconnecting");
        }

        if (options.MaxReconnectDelaySeconds < Math.Max(1, options.ReconnectDelaySeconds) || options.MaxReconnectDelaySeconds > 86_400)
        {
            Problem(nameof(options.MaxReconnectDelaySeconds), options.MaxReconnectDelaySeconds,
                $"is not a whole number from {Math.Max(1, options.ReconnectDelaySeconds)} (ReconnectDelaySeconds) to 86400: the longest wait between attempts");
        }

        if (options.Tls is false && (options.CaFile is { Length: > 0 } || options.TlsInsecureSkipVerify))
        {
            Problem(nameof(options.Tls), "false", $"but {nameof(options.CaFile)} or {nameof(options.TlsInsecureSkipVerify)} is set: set {nameof(options.Tls)} to true to use TLS");
        }

        if (options.Topics.Count == 0)
        {
            problems.Add($"{path}:{nameof(options.Topics)}: missing: a bridge needs at least one topic pattern");
        }

        var topics = new List<TopicMapping>();
        for (var i = 0; i < options.Topics.Count; i++)
        {
            if (TryCreateTopic($"{path}:{nameof(options.Topics)}:{i}", options.Topics[i], problems) is { } topic)
            {
                topics.Add(topic);
            }
        }

        if (problems.Count > before)
        {
            return null;
        }

        return new BridgeSettings
        {
            Name = options.Name,
            Host = host,
            Port = port,
            Tls = options.Tls,
            CaFile = string.IsNullOrEmpty(options.CaFile) ? null : options.CaFile,
            TlsInsecureSkipVerify = options.TlsInsecureSkipVerify,
            Username = string.IsNullOrEmpty(options.Username) ? null : options.Username,
            Password = options.Password,
            ClientId = clientId,
            V5 = v5 == true,
            CleanSession = options.CleanSession,
            KeepAliveSeconds = (ushort)options.KeepAliveSeconds,
            ReconnectDelay = TimeSpan.FromSeconds(options.ReconnectDelaySeconds),
            MaxReconnectDelay = TimeSpan.FromSeconds(options.MaxReconnectDelaySeconds),
            Topics = topics,
        };
    }

    private static TopicMapping? TryCreateTopic(string path, BridgeTopicOptions topic, List<string> problems)
    {
        var before = problems.Count;
        var direction = topic.Direction.ToLowerInvariant() switch
        {
            "in" => BridgeDirection.In,
            "out" => BridgeDirection.Out,
            "both" => BridgeDirection.Both,
            _ => (BridgeDirection?)null,
        };
        if (direction is null)
        {
            problems.Add($"{path}:{nameof(topic.Direction)}: '{topic.Direction}' is not in, out or both");
        }

        if (topic.Qos is < 0 or > 2)
        {
            problems.Add($"{path}:{nameof(topic.Qos)}: '{topic.Qos.ToString(CultureInfo.InvariantCulture)}' is not 0, 1 or 2 (MQTT-4.3)");
        }

        foreach (var (key, prefix) in new[] { (nameof(topic.LocalPrefix), topic.LocalPrefix), (nameof(topic.RemotePrefix), topic.RemotePrefix) })
        {
            if (prefix.AsSpan().IndexOfAny("+#\0") >= 0)
            {
                problems.Add($"{path}:{key}: '{prefix}' is not a topic prefix: no wildcards (MQTT-4.7.1-1)");
            }
        }

        if (problems.Count > before)
        {
            return null;
        }

        if (topic.Pattern.Length == 0)
        {
            // mosquitto.conf(5): with an empty pattern both prefixes are whole topics: one topic renamed.
            if (!TopicValidator.IsValidTopicName(topic.LocalPrefix) || !TopicValidator.IsValidTopicName(topic.RemotePrefix))
            {
                problems.Add($"{path}:{nameof(topic.Pattern)}: '' needs {nameof(topic.LocalPrefix)} and {nameof(topic.RemotePrefix)} to be whole topic names (one topic renamed)");
                return null;
            }
        }
        else
        {
            foreach (var (key, filter) in new[] { (nameof(topic.LocalPrefix), topic.LocalPrefix + topic.Pattern), (nameof(topic.RemotePrefix), topic.RemotePrefix + topic.Pattern) })
            {
                if (!TopicValidator.IsValidTopicFilter(filter))
                {
                    problems.Add($"{path}:{nameof(topic.Pattern)}: '{topic.Pattern}' with its {key} makes '{filter}', not a topic filter (MQTT-4.7.1; a prefix usually ends with /)");
                    return null;
                }
            }
        }

        return new TopicMapping(topic.Pattern, direction!.Value, (QoS)topic.Qos, topic.LocalPrefix, topic.RemotePrefix);
    }

    /// <summary><c>HOST:PORT</c> or <c>[IPv6]:PORT</c>; the host may be a name (resolved at each connection).</summary>
    public static bool TryParseAddress(string value, out string host, out int port)
    {
        host = "";
        port = 0;
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port)
            || port is < 1 or > 65_535)
        {
            return false;
        }

        host = value[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
            return System.Net.IPAddress.TryParse(host, out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        }

        return host.Length > 0 && !host.Contains(':', StringComparison.Ordinal)
            && Uri.CheckHostName(host) is UriHostNameType.Dns or UriHostNameType.IPv4;
    }
}
