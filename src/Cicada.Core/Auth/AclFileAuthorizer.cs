using System.Diagnostics.Metrics;
using Cicada.Core.Topics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Core.Auth;

/// <summary>ACL settings (configuration section <c>Auth</c>, beside <see cref="AuthOptions"/>).</summary>
public sealed class AclOptions
{
    public const string Section = "Auth";

    /// <summary>ACL file in mosquitto's format (<see cref="AclRules"/>); none = everything is allowed.</summary>
    public string? AclFile { get; set; }
}

/// <summary>
/// The <see cref="IAuthorizer"/> over an ACL file (<see cref="AclRules"/>), re-read within a second
/// of a change (one <c>stat</c> per heartbeat tick). Semantics:
/// <list type="bullet">
/// <item>Publish: some rule with <c>write</c> matches the topic, and no <c>deny</c> rule does.</item>
/// <item>Subscribe: one rule with <c>read</c> <em>covers</em> the filter (matches every topic the
/// filter can match: <c>sensors/+/temp</c> is covered by <c>sensors/#</c>; <c>#</c> is not), and no
/// <c>deny</c> rule overlaps it. Stricter than mosquitto, which checks deliveries one by one: here
/// the subscription is the only check, so it must not admit anything unreadable.
/// <c>$share/{group}/{filter}</c> is judged by <c>{filter}</c>.</item>
/// <item>As in mosquitto: rules before any <c>user</c> line apply to anonymous clients (no
/// username) only; a client with a username gets the rules of its <c>user</c> section; patterns
/// apply to everyone whose username / client id can be substituted safely (not empty, no
/// <c>/ + #</c>).</item>
/// <item>A missing file denies everything; a file with an invalid line is refused as a whole (at
/// start: everything denied; on reload: the previous rules stay).</item>
/// <item>A subscription made under old rules keeps receiving after a reload; the new rules apply to
/// new subscriptions and every publish. Reconnect clients to apply a tightened file to them.</item>
/// </list>
/// </summary>
public sealed partial class AclFileAuthorizer : IAuthorizer, IHeartbeatHandler
{
    private const int MaxLogLinesPerSecond = 20;

    private readonly ILogger _logger;
    private readonly Counter<long>? _denied;
    private readonly Lock _reloadLock = new();
    private volatile AclRules _rules = AclRules.Empty;
    private string? _stamp;
    private long _logWindow;
    private int _logged;
    private int _suppressed;

    public AclFileAuthorizer(IOptions<AclOptions> options, ILogger<AclFileAuthorizer> logger, Heartbeat? heartbeat = null,
        IMeterFactory? meterFactory = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Value.AclFile);
        Path = System.IO.Path.GetFullPath(options.Value.AclFile);
        _logger = logger;
        _denied = meterFactory?.Create(CicadaMetrics.MeterName)
            .CreateCounter<long>("cicada.acl.denied", description: "Publishes and subscriptions denied by the ACL");
        Reload();
        heartbeat?.Register(this);
    }

    public string Path { get; }

    /// <summary>The rules in force.</summary>
    public AclRules Rules => _rules;

    /// <summary>How many times the file was (re)loaded successfully.</summary>
    public int Loads { get; private set; }

    public bool CanPublish(ClientIdentity identity, string topic)
    {
        if (ReservedTopics.IsSystem(topic))
        {
            return false; // written by the broker only, whatever the rules say
        }

        if (_rules.Decide(identity, AclAction.Publish, topic, null, out var rule))
        {
            return true;
        }

        Denied(identity, AclAction.Publish, topic, rule);
        return false;
    }

    public bool CanSubscribe(ClientIdentity identity, string filter)
    {
        if (_rules.Decide(identity, AclAction.Subscribe, filter, Levels(filter), out var rule))
        {
            return true;
        }

        Denied(identity, AclAction.Subscribe, filter, rule);
        return false;
    }

    public AclDecision Explain(ClientIdentity identity, string topicOrFilter, AclAction action)
    {
        var rules = _rules;
        if (action == AclAction.Subscribe && !TopicValidator.IsValidSubscriptionFilter(topicOrFilter))
        {
            return new AclDecision(false, $"'{topicOrFilter}' is not a valid topic filter");
        }

        if (action == AclAction.Publish && !TopicValidator.IsValidTopicName(topicOrFilter))
        {
            return new AclDecision(false, $"'{topicOrFilter}' is not a valid topic name");
        }

        var allowed = rules.Decide(identity, action, topicOrFilter, action == AclAction.Subscribe ? Levels(topicOrFilter) : null, out var rule);
        var verb = action == AclAction.Publish ? "write" : "read";
        var reason = (allowed, rule) switch
        {
            (true, { } r) => $"allowed by {r}",
            (false, { } r) => $"denied by {r}",
            _ when rules.Errors.Count > 0 => $"denied: the ACL file {Path} is invalid ({rules.Errors[0]})",
            _ when rules.All.Count == 0 => $"denied: the ACL file {Path} has no rules (or does not exist)",
            _ => $"denied: no rule in {Path} grants {verb} on '{topicOrFilter}'"
                + (action == AclAction.Subscribe ? " (a subscription needs one rule that covers its whole filter)" : string.Empty),
        };
        return new AclDecision(allowed, reason, rule);
    }

    public void OnHeartbeat(DateTimeOffset now) => Reload();

    /// <summary>Re-reads the file if it changed since the last look; true when new rules took effect.</summary>
    public bool Reload() => Reload(_stamp is null ? "start" : "file changed", force: false);

    /// <summary>
    /// Re-reads the file — when it changed, or always with <paramref name="force"/> (SIGHUP) — and
    /// logs one line: the rules added and removed, or why the file was refused (an invalid file
    /// keeps the previous rules). True when new rules took effect.
    /// </summary>
    public bool Reload(string trigger, bool force)
    {
        lock (_reloadLock)
        {
            var info = new FileInfo(Path);
            var stamp = info.Exists ? $"{info.LastWriteTimeUtc.Ticks}:{info.Length}" : "-";
            if (stamp == _stamp && !force)
            {
                return false;
            }

            var first = _stamp is null;
            _stamp = stamp;
            if (!info.Exists)
            {
                _rules = AclRules.Empty;
                LogMissing(Path, trigger);
                return true;
            }

            AclRules rules;
            try
            {
                rules = AclRules.Parse(File.ReadAllText(Path), Path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _stamp = first ? null : "?"; // try again next tick
                LogUnreadable(Path, trigger, ex.Message);
                return false;
            }

            if (rules.Errors.Count > 0)
            {
                LogInvalid(Path, trigger, string.Join("; ", rules.Errors), first ? "everything is denied until it is fixed" : "the previous rules stay in force");
                if (!first)
                {
                    return false;
                }

                // No rule, but the errors, so Explain can say why everything is denied.
                _rules = AclRules.Invalid(rules.Errors);
                return true;
            }

            var previous = _rules;
            _rules = rules;
            Loads++;
            LogLoaded(Path, trigger, rules.All.Count, rules.UserCount, first ? string.Empty : Changes(previous, rules));
            return true;
        }
    }

    /// <summary><c>; 2 rules added (…), 1 removed (…)</c> by rule text and user, or <c>; no change</c>.</summary>
    private static string Changes(AclRules before, AclRules after)
    {
        static string Key(AclRule r) => $"{r.User}\n{r.Text}";
        static string Show(AclRule r) => r.User is null ? r.Text : $"{r.Text} (user {r.User})";
        var old = before.All.Select(Key).ToHashSet(StringComparer.Ordinal);
        var now = after.All.Select(Key).ToHashSet(StringComparer.Ordinal);
        var added = after.All.Where(r => !old.Contains(Key(r))).Select(Show).ToList();
        var removed = before.All.Where(r => !now.Contains(Key(r))).Select(Show).ToList();
        if (added.Count == 0 && removed.Count == 0)
        {
            return "; no change";
        }

        return $"; {added.Count} rules added{List(added)}, {removed.Count} removed{List(removed)}";

        static string List(List<string> rules) => rules.Count == 0 ? string.Empty
            : " (" + string.Join("; ", rules.Take(5)) + (rules.Count > 5 ? "; …" : string.Empty) + ")";
    }

    private static string[] Levels(string filter)
    {
        TopicValidator.TryParseShared(filter, out _, out var inner, out _);
        return inner.Split('/');
    }

    private void Denied(in ClientIdentity identity, AclAction action, string topic, AclRule? rule)
    {
        _denied?.Add(1, new KeyValuePair<string, object?>("action", action == AclAction.Publish ? "publish" : "subscribe"));

        // A client retrying a denied publish in a loop must not flood the log: at most
        // MaxLogLinesPerSecond lines a second, the rest counted in the next line.
        var second = Environment.TickCount64 / 1000;
        if (Interlocked.Exchange(ref _logWindow, second) != second)
        {
            Volatile.Write(ref _logged, 0);
        }

        if (Interlocked.Increment(ref _logged) > MaxLogLinesPerSecond)
        {
            Interlocked.Increment(ref _suppressed);
            return;
        }

        var suppressed = Interlocked.Exchange(ref _suppressed, 0);
        LogDenied(identity.Protocol, identity.ClientId, identity.Username ?? "(anonymous)", action == AclAction.Publish ? "publish to" : "subscribe to",
            topic, rule?.ToString() ?? "no rule grants it", suppressed == 0 ? string.Empty : $" ({suppressed} earlier denials not logged)");
    }

    [LoggerMessage(EventId = 120, Level = LogLevel.Information, Message = "ACL file {Path} loaded ({Trigger}): {Rules} rules, {Users} users{Changes}")]
    private partial void LogLoaded(string path, string trigger, int rules, int users, string changes);

    [LoggerMessage(EventId = 121, Level = LogLevel.Warning, Message = "ACL file {Path} does not exist ({Trigger}): everything is denied")]
    private partial void LogMissing(string path, string trigger);

    [LoggerMessage(EventId = 122, Level = LogLevel.Error, Message = "ACL file {Path} is invalid ({Trigger}: {Errors}): {Consequence}")]
    private partial void LogInvalid(string path, string trigger, string errors, string consequence);

    [LoggerMessage(EventId = 123, Level = LogLevel.Error, Message = "ACL file {Path} could not be read ({Trigger}): {Error}")]
    private partial void LogUnreadable(string path, string trigger, string error);

    [LoggerMessage(EventId = 124, Level = LogLevel.Information,
        Message = "{Protocol} client {ClientId} (user {Username}) may not {Action} '{Topic}': {Rule}{Suppressed}")]
    private partial void LogDenied(string protocol, string clientId, string username, string action, string topic, string rule, string suppressed);
}
