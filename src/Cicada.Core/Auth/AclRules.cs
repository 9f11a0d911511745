using Cicada.Core.Topics;

namespace Cicada.Core.Auth;

/// <summary>
/// A parsed ACL file in mosquitto's format:
/// <code>
/// # comment
/// topic read public/#            rules before any "user" line apply to anonymous clients only (as mosquitto)
/// pattern readwrite devices/%c/# patterns apply to every client: %u = username, %c = client id
/// user alice                     the rules below, up to the next "user" line, are alice's
/// topic readwrite home/#
/// topic deny home/secret/#       deny: checked before every grant (mosquitto 2)
/// topic sensors/#                no access word = readwrite
/// </code>
/// A line that is none of these makes the whole file invalid (<see cref="Errors"/>): a rule read
/// wrongly or skipped could grant what was meant to be denied.
/// </summary>
public sealed class AclRules
{
    private readonly Scope _anonymous;
    private readonly Scope _patterns;
    private readonly Dictionary<string, Scope> _users;

    private AclRules(Scope anonymous, Scope patterns, Dictionary<string, Scope> users, IReadOnlyList<AclRule> all, IReadOnlyList<string> errors)
    {
        _anonymous = anonymous;
        _patterns = patterns;
        _users = users;
        All = all;
        Errors = errors;
    }

    /// <summary>No rule at all: everything is denied (an empty or missing ACL file).</summary>
    public static AclRules Empty { get; } = Parse(string.Empty, "(none)");

    /// <summary>No rule, and the errors that made a file unusable: everything is denied.</summary>
    public static AclRules Invalid(IReadOnlyList<string> errors) =>
        new(Empty._anonymous, Empty._patterns, Empty._users, [], errors);

    /// <summary>Every rule in file order.</summary>
    public IReadOnlyList<AclRule> All { get; }

    /// <summary>Lines that could not be read, as <c>source:line: why</c>; empty for a valid file.</summary>
    public IReadOnlyList<string> Errors { get; }

    public int UserCount => _users.Count;

    public static AclRules Parse(string text, string source)
    {
        var all = new List<AclRule>();
        var errors = new List<string>();
        string? user = null;
        var lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            var line = rawLine.TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.IndexOfAny([' ', '\t']);
            var keyword = space < 0 ? line : line[..space];
            var rest = space < 0 ? string.Empty : line[(space + 1)..].Trim();
            switch (keyword)
            {
                case "user":
                    if (rest.Length == 0)
                    {
                        errors.Add($"{source}:{lineNumber}: 'user' without a name");
                    }

                    user = rest;
                    break;
                case "topic" or "pattern":
                    var isPattern = keyword == "pattern";
                    if (!TryParseRule(rest, out var access, out var deny, out var filter, out var error))
                    {
                        errors.Add($"{source}:{lineNumber}: {error}");
                        break;
                    }

                    all.Add(new AclRule(source, lineNumber, line, isPattern ? null : user, isPattern, access, deny, filter));
                    break;
                default:
                    errors.Add($"{source}:{lineNumber}: '{keyword}' is not user, topic or pattern");
                    break;
            }
        }

        var anonymous = new ScopeBuilder();
        var patterns = new ScopeBuilder();
        var users = new Dictionary<string, ScopeBuilder>(StringComparer.Ordinal);
        foreach (var rule in all)
        {
            var scope = rule.IsPattern ? patterns
                : rule.User is null ? anonymous
                : users.TryGetValue(rule.User, out var existing) ? existing
                : users[rule.User] = new ScopeBuilder();
            scope.Add(new CompiledRule(rule, new AclFilter(rule.Filter, rule.IsPattern)));
        }

        return new AclRules(anonymous.Build(), patterns.Build(), users.ToDictionary(p => p.Key, p => p.Value.Build(), StringComparer.Ordinal),
            all, errors);
    }

    private static bool TryParseRule(string rest, out AclAccess access, out bool deny, out string filter, out string error)
    {
        access = AclAccess.ReadWrite;
        deny = false;
        filter = rest;
        error = string.Empty;
        var space = rest.IndexOfAny([' ', '\t']);
        var first = space < 0 ? rest : rest[..space];
        var known = first switch
        {
            "read" => AclAccess.Read,
            "write" => AclAccess.Write,
            "readwrite" => AclAccess.ReadWrite,
            "deny" => AclAccess.None,
            _ => (AclAccess?)null,
        };
        if (known is { } given)
        {
            if (space < 0)
            {
                error = $"'{first}' without a topic filter";
                return false;
            }

            access = given;
            deny = first == "deny";
            filter = rest[(space + 1)..].Trim();
        }

        if (!TopicValidator.IsValidTopicFilter(filter))
        {
            error = $"'{filter}' is not a valid topic filter";
            return false;
        }

        return true;
    }

    /// <summary>
    /// The decision for one request, and the rule that made it (null when no rule matched, which
    /// denies). Deny rules of every scope come first, then grants; within each, file order.
    /// Allocates nothing for a publish; a subscribe passes its filter split into levels.
    /// </summary>
    internal bool Decide(in ClientIdentity identity, AclAction action, string topic, string[]? filterLevels, out AclRule? rule)
    {
        // mosquitto's acl_file semantics: the rules before the first "user" line are the anonymous
        // clients' section; a client with a username gets its own section (none: no topic rules).
        // Patterns apply to both.
        Scope? own;
        if (identity.Username is { } username)
        {
            _users.TryGetValue(username, out own);
        }
        else
        {
            own = _anonymous;
        }

        var need = action == AclAction.Publish ? AclAccess.Write : AclAccess.Read;
        if ((own is not null && FirstHit(own.Denials, identity, action, topic, filterLevels, denial: true, out rule))
            || FirstHit(_patterns.Denials, identity, action, topic, filterLevels, denial: true, out rule))
        {
            return false;
        }

        return (own is not null && FirstHit(own.Grants[(int)need], identity, action, topic, filterLevels, denial: false, out rule))
            || FirstHit(_patterns.Grants[(int)need], identity, action, topic, filterLevels, denial: false, out rule);
    }

    private static bool FirstHit(CompiledRule[] rules, in ClientIdentity identity, AclAction action, string topic, string[]? filterLevels,
        bool denial, out AclRule? hit)
    {
        foreach (var rule in rules)
        {
            var filter = rule.Filter;
            if ((filter.UsesUsername && !IsSafeSubstitute(identity.Username)) || (filter.UsesClientId && !IsSafeSubstitute(identity.ClientId)))
            {
                // No username to put in %u: the pattern is about nobody. A name with '/', '+' or
                // '#' would reach into other clients' topics: grants are skipped, denials hit.
                if (denial && (filter.UsesUsername ? identity.Username is not null : true))
                {
                    hit = rule.Rule;
                    return true;
                }

                continue;
            }

            var matched = action == AclAction.Publish || filterLevels is null
                ? filter.Matches(topic, identity)
                : denial ? filter.Overlaps(filterLevels, identity) : filter.Covers(filterLevels, identity);
            if (matched)
            {
                hit = rule.Rule;
                return true;
            }
        }

        hit = null;
        return false;
    }

    private static bool IsSafeSubstitute(string? value) =>
        !string.IsNullOrEmpty(value) && value.AsSpan().IndexOfAny('/', '+', '#') < 0;

    private sealed record CompiledRule(AclRule Rule, AclFilter Filter);

    /// <summary>One scope's rules: denials, and grants indexed by the access they give (1 read, 2 write).</summary>
    private sealed class Scope(CompiledRule[] denials, CompiledRule[][] grants)
    {
        public CompiledRule[] Denials { get; } = denials;

        public CompiledRule[][] Grants { get; } = grants;
    }

    private sealed class ScopeBuilder
    {
        private readonly List<CompiledRule> _denials = [];
        private readonly List<CompiledRule> _reads = [];
        private readonly List<CompiledRule> _writes = [];

        public void Add(CompiledRule rule)
        {
            if (rule.Rule.Deny)
            {
                _denials.Add(rule);
                return;
            }

            if ((rule.Rule.Access & AclAccess.Read) != 0)
            {
                _reads.Add(rule);
            }

            if ((rule.Rule.Access & AclAccess.Write) != 0)
            {
                _writes.Add(rule);
            }
        }

        public Scope Build() => new([.. _denials], [[], [.. _reads], [.. _writes]]);
    }
}
