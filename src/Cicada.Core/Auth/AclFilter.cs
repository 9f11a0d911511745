namespace Cicada.Core.Auth;

/// <summary>
/// An ACL rule's topic filter, split into levels once when the file is read. A <c>pattern</c>
/// filter keeps <c>%u</c> (username) and <c>%c</c> (client id) as tokens and substitutes them while
/// matching, so checking a publish allocates nothing. Three questions are asked of it:
/// <list type="bullet">
/// <item><see cref="Matches"/>: does it match a topic name (MQTT §4.7 matching)?</item>
/// <item><see cref="Covers"/>: does it match every topic a subscription filter can match? That
/// is the subscribe check: a filter is granted only when one rule covers all of it, so a client
/// never receives a message the rules do not let it read, without a check per delivery.</item>
/// <item><see cref="Overlaps"/>: is there a topic both match? That is the check for <c>deny</c>
/// rules against a subscription: a filter reaching into a denied area is refused.</item>
/// </list>
/// Leading wildcards do not reach <c>$</c> topics on either side (MQTT-4.7.2-1).
/// </summary>
internal sealed class AclFilter
{
    private enum Kind : byte
    {
        Literal,
        Plus,
        Hash,
        Template,
    }

    private readonly record struct Level(Kind Kind, string Text, string[]? Parts);

    private const string UsernameToken = "%u";
    private const string ClientIdToken = "%c";

    private readonly Level[] _levels;

    public AclFilter(string filter, bool isPattern)
    {
        Text = filter;
        var levels = filter.Split('/');
        _levels = new Level[levels.Length];
        for (var i = 0; i < levels.Length; i++)
        {
            var text = levels[i];
            _levels[i] = text switch
            {
                "+" => new Level(Kind.Plus, text, null),
                "#" => new Level(Kind.Hash, text, null),
                _ when isPattern && (text.Contains(UsernameToken, StringComparison.Ordinal) || text.Contains(ClientIdToken, StringComparison.Ordinal))
                    => new Level(Kind.Template, text, SplitTemplate(text)),
                _ => new Level(Kind.Literal, text, null),
            };
            UsesUsername |= _levels[i].Kind == Kind.Template && text.Contains(UsernameToken, StringComparison.Ordinal);
            UsesClientId |= _levels[i].Kind == Kind.Template && text.Contains(ClientIdToken, StringComparison.Ordinal);
        }
    }

    public string Text { get; }

    public bool UsesUsername { get; }

    public bool UsesClientId { get; }

    /// <summary>MQTT §4.7 matching of a topic name, with %u/%c replaced by <paramref name="identity"/>'s.</summary>
    public bool Matches(ReadOnlySpan<char> topic, in ClientIdentity identity)
    {
        var levels = _levels;
        if (topic.Length > 0 && topic[0] == '$' && levels[0].Kind is Kind.Plus or Kind.Hash)
        {
            return false; // MQTT-4.7.2-1
        }

        var i = 0;
        while (true)
        {
            var slash = topic.IndexOf('/');
            var level = slash < 0 ? topic : topic[..slash];
            if (i == levels.Length)
            {
                return false;
            }

            var rule = levels[i];
            switch (rule.Kind)
            {
                case Kind.Hash:
                    return true;
                case Kind.Literal when !level.SequenceEqual(rule.Text):
                    return false;
                case Kind.Template when !TemplateMatches(rule.Parts!, level, identity):
                    return false;
            }

            i++;
            if (slash < 0)
            {
                break;
            }

            topic = topic[(slash + 1)..];
        }

        // "a/#" also matches "a" (MQTT-4.7.1-2).
        return i == levels.Length || (i == levels.Length - 1 && levels[i].Kind == Kind.Hash);
    }

    /// <summary>True when every topic <paramref name="subscription"/> matches is matched by this filter.</summary>
    public bool Covers(string[] subscription, in ClientIdentity identity)
    {
        for (var i = 0; ; i++)
        {
            if (i == _levels.Length)
            {
                return i == subscription.Length;
            }

            var rule = _levels[i];
            if (rule.Kind == Kind.Hash)
            {
                return !(i == 0 && subscription.Length > 0 && IsDollar(subscription[0]));
            }

            if (i == subscription.Length)
            {
                return false; // "a" is not covered by "a/b" or "a/+"
            }

            var level = subscription[i];
            if (level == "#")
            {
                // Reaches deeper than any level but '#' allows, with one exception: "#" alone
                // means "one level or more" (a topic has at least one), which is what "+/#" means.
                return i == 0 && rule.Kind == Kind.Plus && _levels.Length == 2 && _levels[1].Kind == Kind.Hash;
            }

            if (rule.Kind == Kind.Plus)
            {
                if (i == 0 && IsDollar(level))
                {
                    return false;
                }

                continue;
            }

            // A literal rule level is covered by the same literal only: '+' reaches every other value.
            if (level == "+" || !LevelEquals(rule, level, identity))
            {
                return false;
            }
        }
    }

    /// <summary>True when some topic is matched by both this filter and <paramref name="subscription"/>.</summary>
    public bool Overlaps(string[] subscription, in ClientIdentity identity)
    {
        for (var i = 0; ; i++)
        {
            var ruleDone = i == _levels.Length;
            var subscriptionDone = i == subscription.Length;
            if (ruleDone && subscriptionDone)
            {
                return true;
            }

            if (!ruleDone && _levels[i].Kind == Kind.Hash)
            {
                return !(i == 0 && subscription.Length > 0 && IsDollar(subscription[0]));
            }

            if (!subscriptionDone && subscription[i] == "#")
            {
                return !(i == 0 && _levels[0].Kind is Kind.Literal or Kind.Template && IsDollar(_levels[0].Text));
            }

            if (ruleDone || subscriptionDone)
            {
                return false;
            }

            var rule = _levels[i];
            var level = subscription[i];
            if (rule.Kind == Kind.Plus)
            {
                if (i == 0 && IsDollar(level))
                {
                    return false;
                }

                continue;
            }

            if (level == "+")
            {
                if (i == 0 && IsDollar(rule.Text))
                {
                    return false;
                }

                continue;
            }

            if (!LevelEquals(rule, level, identity))
            {
                return false;
            }
        }
    }

    private static bool IsDollar(string level) => level.Length > 0 && level[0] == '$';

    private static bool LevelEquals(in Level rule, string level, in ClientIdentity identity) =>
        rule.Kind == Kind.Template ? TemplateMatches(rule.Parts!, level, identity) : rule.Text == level;

    /// <summary>A level such as <c>%u</c> or <c>dev-%c</c> against one topic level.</summary>
    private static bool TemplateMatches(string[] parts, ReadOnlySpan<char> level, in ClientIdentity identity)
    {
        foreach (var part in parts)
        {
            var value = part switch
            {
                UsernameToken => identity.Username!,
                ClientIdToken => identity.ClientId,
                _ => part,
            };
            if (!level.StartsWith(value, StringComparison.Ordinal))
            {
                return false;
            }

            level = level[value.Length..];
        }

        return level.IsEmpty;
    }

    /// <summary>"dev-%c-x" → ["dev-", "%c", "-x"].</summary>
    private static string[] SplitTemplate(string text)
    {
        var parts = new List<string>();
        var start = 0;
        for (var i = 0; i < text.Length - 1; i++)
        {
            if (text[i] == '%' && text[i + 1] is 'u' or 'c')
            {
                if (i > start)
                {
                    parts.Add(text[start..i]);
                }

                parts.Add(text.Substring(i, 2));
                start = i + 2;
                i++;
            }
        }

        if (start < text.Length)
        {
            parts.Add(text[start..]);
        }

        return [.. parts];
    }
}
