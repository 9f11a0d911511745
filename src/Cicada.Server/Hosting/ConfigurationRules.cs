using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using Cicada.Amqp;
using Cicada.Bridge;
using Cicada.Coap;
using Cicada.Core;
using Cicada.Core.Auth;
using Cicada.Core.Limits;
using Cicada.Http;
using Cicada.Mqtt;

namespace Cicada.Server.Hosting;

/// <summary>
/// Checks the merged configuration before anything starts, so a bad value from any source stops
/// the broker with exit code 2 and a line naming the key and the reason, instead of a crash or a
/// silently clamped limit later. Complements <see cref="ServerSettings.TryCreate"/> (listeners,
/// storage, users file), which checks the host's own keys.
/// </summary>
public static class ConfigurationRules
{
    /// <summary>An integer setting and the range it must lie in, with the reason for the bounds.</summary>
    public sealed record IntRange(string Key, long Min, long Max, string Why);

    /// <summary>Every bounded number. The reasons cite the protocol field a value ends up in.</summary>
    public static IReadOnlyList<IntRange> Ranges { get; } =
    [
        new("Broker:MaxQueuedMessages", 1, int.MaxValue, "a session must be able to hold at least one message"),
        new("Broker:MaxQueuedBytes", 0, long.MaxValue, "a number of payload bytes, 0 = no byte limit"),
        new("Broker:BackpressureMaxWaitMilliseconds", 1, 3_600_000, "the longest one publish waits for a slow subscriber, in milliseconds"),
        new("Broker:MaxInflight", 1, ushort.MaxValue, "MQTT packet identifiers are 16-bit, so at most 65535 can be in flight (MQTT-2.2.1)"),
        new("Broker:ConnectTimeoutSeconds", 1, 3600, "a connection must get at least a second to send CONNECT"),
        new("Mqtt:MaxPacketSize", 16, 268_435_460,
            "the smallest useful packet is a few bytes and MQTT's largest is 268,435,455 plus a 5-byte fixed header (MQTT 5 §3.2.2.3.6)"),
        new("Mqtt:ReceiveMaximum", 1, ushort.MaxValue, "Receive Maximum is a non-zero 16-bit value (MQTT 5 §3.2.2.3.3)"),
        new("Mqtt:TopicAliasMaximum", 0, ushort.MaxValue, "Topic Alias Maximum is a 16-bit value, 0 = no aliases (MQTT 5 §3.2.2.3.8)"),
        new("Mqtt:MaxKeepAliveSeconds", 0, ushort.MaxValue, "Keep Alive is a 16-bit number of seconds, 0 = accept any (MQTT-3.1.2.10)"),
        new("Sys:IntervalSeconds", 0, 86_400, "0 turns $SYS off; more than a day between updates is a mistake"),
        new("Http:MaxBodySize", 1, long.MaxValue, "a request body limit of 0 would refuse every publish"),
        new("Http:StreamKeepAliveSeconds", 1, 3600, "the SSE keep-alive comment must come often enough for proxies to keep the stream open"),
        new("Http:StreamReplayMessages", 0, 1_000_000, "the SSE replay buffer is held in memory"),
        new("Http:StreamReplaySeconds", 1, 86_400, "the SSE replay buffer is held in memory"),
        new("Coap:MaxBodySize", 1, int.MaxValue, "a body limit of 0 would refuse every publish (announced as Size1, RFC 7959 §4)"),
        new("Coap:BlockSize", 16, 1024, "block sizes are 16 to 1024 bytes (RFC 7959 §2.2, SZX 0..6)"),
        new("Coap:SeparateResponseAfterMilliseconds", 0, 60_000, "a client retransmits a CON after 2-3 s (RFC 7252 §4.8): answer or acknowledge before that"),
        new("Coap:ConfirmableNotificationSeconds", 1, 86_400, "an observer must get a CON at least every 24 hours (RFC 7641 §4.5)"),
        new("Coap:MaxObservations", 0, int.MaxValue, "a number of observations held at once (0 refuses Observe)"),
        new("Coap:MaxExchanges", 1, int.MaxValue, "at least one request must be able to be in progress"),
        new("Amqp:FrameMax", 4096, int.MaxValue, "AMQP 0-9-1 frame-min-size is 4096 (§4.2.3)"),
        new("Amqp:ChannelMax", 1, ushort.MaxValue, "channel-max is a 16-bit field (connection.tune)"),
        new("Amqp:HeartbeatSeconds", 0, ushort.MaxValue, "heartbeat is a 16-bit number of seconds, 0 = off (connection.tune)"),
        new("Amqp:MaxMessageSize", 1, long.MaxValue, "a message size limit of 0 would refuse every publish"),
        new(CicadaConfiguration.StorageBusyTimeoutSeconds, 1, 3600,
            "a write waits at least a second for a lock another process holds (SQLITE_BUSY) before the message is refused"),
        new("Auth:HookTimeoutMilliseconds", 1, 60_000, "a CONNECT waits for the hook; a minute is already longer than most clients wait for CONNACK"),
        new("Auth:HookCacheSeconds", 0, 86_400, "seconds a hook's answer is reused, 0 = ask every time; more than a day keeps a revoked user in too long"),
        new("Limits:MaxConnections", 0, int.MaxValue, "a number of connections, 0 = no limit"),
        new("Limits:MaxConnectionsPerIp", 0, int.MaxValue, "a number of connections, 0 = no limit"),
        new("Limits:MaxSubscriptionsPerClient", 0, int.MaxValue, "a number of subscriptions, 0 = no limit"),
        new("Limits:MaxTopicLevels", 0, int.MaxValue, "a number of topic levels, 0 = no limit"),
        new("Limits:MaxTopicLength", 0, 65_535, "a topic is at most 65535 UTF-8 bytes (MQTT-1.5.4), 0 = no limit"),
        new("Limits:MaxPublishesPerSecond", 0, int.MaxValue, "publishes a second per client, 0 = no limit"),
        new("Limits:PublishBurst", 0, int.MaxValue, "publishes above the rate at once, 0 = one second's worth"),
        new("Limits:MaxHttpRequestsPerSecond", 0, int.MaxValue, "HTTP requests a second per IP address, 0 = no limit"),
        new("Limits:HttpRequestBurst", 0, int.MaxValue, "HTTP requests above the rate at once, 0 = one second's worth"),
    ];

    /// <summary>
    /// Sections bound to an options class: every key in them must be one of its properties (a typo
    /// such as <c>Mqtt:MaxPaketSize</c> would otherwise be ignored without a word) and parse as
    /// its type. Generic calls keep the properties visible to the trimmer (Native AOT).
    /// </summary>
    private static void CheckBoundSections(IConfiguration configuration, List<string> problems, HashSet<string> typeErrors)
    {
        foreach (var (section, properties) in BoundSections())
            CheckSection(configuration, section, properties, problems, typeErrors);
    }

    /// <summary>
    /// Each bound section with the properties its keys may name. A section can feed several
    /// options classes (<c>Auth</c>: users and ACL), and the host reads a few keys itself
    /// (<c>Mqtt:TlsListen</c>, <c>Amqp:TlsListen</c>, <c>Http:TlsListen</c>). Generic calls keep the properties visible to the trimmer (Native AOT).
    /// </summary>
    private static List<(string Section, Dictionary<string, Type> Properties)> BoundSections() =>
    [
        (BrokerOptions.Section, Properties<BrokerOptions>()),
        (MqttOptions.Section, With(Properties<MqttOptions>(), CicadaConfiguration.MqttTlsListen)),
        (SysOptions.Section, Properties<SysOptions>()),
        (AuthOptions.Section, Merge(Properties<AuthOptions>(), Properties<AclOptions>())),
        (LimitsOptions.Section, Properties<LimitsOptions>()),
        (HttpOptions.Section, With(Properties<HttpOptions>(), CicadaConfiguration.HttpTlsListen)),
        (CoapOptions.Section, Properties<CoapOptions>()),
        (AmqpOptions.Section, With(Properties<AmqpOptions>(), CicadaConfiguration.AmqpTlsListen)),
    ];

    private static Dictionary<string, Type> Properties<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>() =>
        typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .ToDictionary(p => p.Name, p => p.PropertyType, StringComparer.OrdinalIgnoreCase);

    private static Dictionary<string, Type> Merge(Dictionary<string, Type> a, Dictionary<string, Type> b)
    {
        foreach (var (name, type) in b)
            a.TryAdd(name, type);
        return a;
    }

    /// <summary>Adds a string key the host reads itself (its value is checked by <see cref="ServerSettings"/>).</summary>
    private static Dictionary<string, Type> With(Dictionary<string, Type> properties, string key)
    {
        properties[key[(key.IndexOf(':', StringComparison.Ordinal) + 1)..]] = typeof(string);
        return properties;
    }

    /// <summary>
    /// Every key of the bound sections (<c>Mqtt:MaxPacketSize</c>, …), and of the <c>Bridges</c>
    /// array as its documentation writes them (<c>Bridges:N:Address</c>).
    /// </summary>
    public static IReadOnlyList<string> BoundKeys() =>
        [.. BoundSections().SelectMany(b => b.Properties.Keys.Select(k => $"{b.Section}:{k}")), .. BridgeConfiguration.DocumentedKeys];

    /// <summary>Every problem found, each as <c>KEY: 'VALUE' REASON</c>; empty when the configuration is usable.</summary>
    public static IReadOnlyList<string> Validate(IConfiguration configuration)
    {
        var problems = new List<string>();
        var typeErrors = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        CheckBoundSections(configuration, problems, typeErrors);
        problems.AddRange(BridgeConfiguration.Validate(configuration));

        foreach (var rule in Ranges)
        {
            var value = configuration[rule.Key];
            if (value is null || typeErrors.Contains(rule.Key))
                continue;
            if (!long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
                || number < rule.Min || number > rule.Max)
                problems.Add($"{rule.Key}: '{value}' is not a whole number from {rule.Min} to {rule.Max}: {rule.Why}");
        }

        // The hook receives passwords: only a URL we can POST to (and know the scheme of) is accepted.
        if (configuration["Auth:HookUrl"] is { Length: > 0 } hookUrl && !HttpHookAuthenticator.TryParseUrl(hookUrl, out _))
            problems.Add($"Auth:HookUrl: '{hookUrl}' is not an absolute http:// or https:// URL");

        if (configuration["Mqtt:Transport"] is { } transport
            && !transport.Equals(MqttOptions.TransportSockets, StringComparison.OrdinalIgnoreCase)
            && !transport.Equals(MqttOptions.TransportKestrel, StringComparison.OrdinalIgnoreCase))
            problems.Add($"Mqtt:Transport: '{transport}' is not one of {MqttOptions.TransportSockets}, {MqttOptions.TransportKestrel}");

        if (configuration["Broker:OverflowPolicy"] is { } policy && !OverflowPolicies.IsKnown(policy))
            problems.Add($"Broker:OverflowPolicy: '{policy}' is not one of {OverflowPolicies.Backpressure}, {OverflowPolicies.DropOldest}");

        var format = configuration[CicadaLogging.FormatKey];
        if (!CicadaLogging.TryParseFormat(format, out _))
            problems.Add($"{CicadaLogging.FormatKey}: '{format}' is not one of {CicadaLogging.FormatNames}");

        // The logging host throws on the first log line for a level it cannot read; say which key at once.
        foreach (var category in configuration.GetSection("Logging:LogLevel").GetChildren())
        {
            if (category.Value is { } level && !category.Path.Equals(CicadaConfiguration.LogLevelDefault, StringComparison.OrdinalIgnoreCase)
                && !ServerSettings.TryParseLogLevel(level, out _))
                problems.Add($"{category.Path}: '{level}' is not one of {ServerSettings.LogLevelNames}");
        }

        return problems;
    }

    private static void CheckSection(IConfiguration configuration, string section, Dictionary<string, Type> properties,
        List<string> problems, HashSet<string> typeErrors)
    {
        foreach (var child in configuration.GetSection(section).GetChildren())
        {
            if (!properties.TryGetValue(child.Key, out var propertyType))
            {
                problems.Add($"{child.Path}: unknown key (the {section} section has {string.Join(", ", properties.Keys.Order(StringComparer.Ordinal))})");
                continue;
            }

            var value = child.Value;
            if (value is null)
            {
                if (child.GetChildren().Any())
                    problems.Add($"{child.Path}: expected a single value, not a section");
                continue;
            }

            var target = Nullable.GetUnderlyingType(propertyType) ?? propertyType;
            var expected = target == typeof(bool) ? "true or false"
                : target == typeof(int) || target == typeof(long) ? "a whole number"
                : null;
            var ok = expected is null // strings, and types set by the host rather than by configuration
                || (target == typeof(int) && int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
                || (target == typeof(long) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
                || (target == typeof(bool) && bool.TryParse(value, out _));
            if (!ok)
            {
                typeErrors.Add(child.Path);
                problems.Add($"{child.Path}: '{value}' is not {expected}");
            }
        }
    }
}
