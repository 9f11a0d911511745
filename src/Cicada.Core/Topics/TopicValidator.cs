namespace Cicada.Core.Topics;

/// <summary>Topic name and filter rules shared by every edge (MQTT 3.1.1 §4.7, MQTT 5 §4.7).</summary>
public static class TopicValidator
{
    /// <summary>Largest topic in UTF-8 bytes (a two-byte length prefix on the MQTT wire, MQTT-1.5.3).</summary>
    public const int MaxTopicBytes = 65_535;

    /// <summary>
    /// A topic name to publish to: at least one character (MQTT-4.7.3-1), no wildcards
    /// (MQTT-3.3.2-2, MQTT-4.7.1-1), no U+0000 (MQTT-1.5.3-2), at most <see cref="MaxTopicBytes"/>.
    /// </summary>
    public static bool IsValidTopicName(ReadOnlySpan<char> topic)
    {
        if (topic.IsEmpty || TooLong(topic))
        {
            return false;
        }

        return topic.IndexOfAny('+', '#', '\0') < 0;
    }

    // Topics also arrive over HTTP, CoAP and AMQP, where nothing bounds them; an MQTT edge could
    // not encode one longer than its two-byte length prefix (§1.5.3). A char is at most 3 UTF-8
    // bytes, so short topics skip the count.
    private static bool TooLong(ReadOnlySpan<char> value) =>
        value.Length > MaxTopicBytes / 3 && System.Text.Encoding.UTF8.GetByteCount(value) > MaxTopicBytes;

    /// <summary>
    /// A topic filter: at least one character (MQTT-4.7.3-1); '#' alone or after '/' and last
    /// (MQTT-4.7.1-2); '+' occupies an entire level (MQTT-4.7.1-3); no U+0000 (MQTT-1.5.3-2);
    /// at most <see cref="MaxTopicBytes"/>.
    /// </summary>
    public static bool IsValidTopicFilter(ReadOnlySpan<char> filter)
    {
        if (filter.IsEmpty || filter.Contains('\0') || TooLong(filter))
        {
            return false;
        }

        for (var i = 0; i < filter.Length; i++)
        {
            var c = filter[i];
            if (c != '+' && c != '#')
            {
                continue;
            }

            var startsLevel = i == 0 || filter[i - 1] == '/';
            var endsLevel = i == filter.Length - 1 || filter[i + 1] == '/';
            if (!startsLevel || !endsLevel)
            {
                return false;
            }

            if (c == '#' && i != filter.Length - 1)
            {
                return false;
            }
        }

        return true;
    }

    private const string SharePrefix = "$share/";

    /// <summary>
    /// Splits a shared subscription <c>$share/{group}/{filter}</c> (MQTT 5 §4.8.2): the group is
    /// at least one character without '/', '+' or '#' (MQTT-4.8.2-1/2) and the filter is valid.
    /// False for an ordinary filter; throws nothing. <paramref name="valid"/> tells a malformed
    /// share apart from an ordinary filter.
    /// </summary>
    public static bool TryParseShared(string filter, out string group, out string inner, out bool valid)
    {
        group = string.Empty;
        inner = filter;
        valid = true;
        if (!filter.StartsWith(SharePrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var slash = filter.IndexOf('/', SharePrefix.Length);
        group = slash < 0 ? filter[SharePrefix.Length..] : filter[SharePrefix.Length..slash];
        inner = slash < 0 ? string.Empty : filter[(slash + 1)..];
        valid = group.Length > 0 && group.IndexOfAny(['+', '#']) < 0 && IsValidTopicFilter(inner);
        return true;
    }

    /// <summary>A filter as a subscription may use it: ordinary, or a well-formed shared one.</summary>
    public static bool IsValidSubscriptionFilter(string filter) =>
        TryParseShared(filter, out _, out _, out var valid) ? valid : IsValidTopicFilter(filter);

    /// <summary>Reference matcher (MQTT-4.7): the slow, obvious one, for tests and for one-off checks.</summary>
    public static bool Matches(string filter, string topic)
    {
        var f = filter.Split('/');
        var t = topic.Split('/');

        // MQTT-4.7.2-1: a leading wildcard does not match topics beginning with '$'.
        if (topic.StartsWith('$') && (f[0] == "+" || f[0] == "#"))
        {
            return false;
        }

        for (var i = 0; i < f.Length; i++)
        {
            if (f[i] == "#")
            {
                return true; // matches the parent level too ("a/#" matches "a")
            }

            if (i >= t.Length)
            {
                return false;
            }

            if (f[i] != "+" && f[i] != t[i])
            {
                return false;
            }
        }

        return f.Length == t.Length;
    }
}
