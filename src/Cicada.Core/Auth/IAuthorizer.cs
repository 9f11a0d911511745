namespace Cicada.Core.Auth;

/// <summary>Who is asking: the same three facts on every edge.</summary>
/// <param name="Username">The authenticated username (or certificate CN); null for an anonymous client.</param>
/// <param name="ClientId">The client id, as the session is named (<c>coap:…</c>, <c>amqp:…</c> for edges without one).</param>
/// <param name="Protocol">The edge (<c>mqtt</c>, <c>http</c>, …), for log lines; rules never depend on it.</param>
public readonly record struct ClientIdentity(string? Username, string ClientId, string Protocol);

/// <summary>What a client wants to do with a topic.</summary>
public enum AclAction
{
    /// <summary>Publish to a topic name (needs <c>write</c>).</summary>
    Publish,

    /// <summary>Subscribe to a filter, or read a topic's retained value (needs <c>read</c>).</summary>
    Subscribe,
}

/// <summary>Access a rule grants (<c>read</c>, <c>write</c>, <c>readwrite</c>) or takes away (<c>deny</c>).</summary>
[Flags]
public enum AclAccess
{
    None = 0,
    Read = 1,
    Write = 2,
    ReadWrite = Read | Write,
}

/// <summary>One line of the ACL file, as written, with what it was read as.</summary>
/// <param name="Line">1-based line number in <paramref name="Source"/>.</param>
/// <param name="User">The <c>user</c> section the rule is in; null for rules before any <c>user</c> line and for patterns.</param>
/// <param name="IsPattern">A <c>pattern</c> line (<c>%u</c>/<c>%c</c> substituted per client).</param>
/// <param name="Deny">A <c>deny</c> rule: checked before every grant.</param>
public sealed record AclRule(string Source, int Line, string Text, string? User, bool IsPattern, AclAccess Access, bool Deny, string Filter)
{
    public override string ToString() => $"{Source}:{Line}: {Text}";
}

/// <summary>An authorization answer with its reason: the rule that decided, or why none did.</summary>
public sealed record AclDecision(bool Allowed, string Reason, AclRule? Rule = null);

/// <summary>
/// The one authorization model of every edge (MQTT, WebSocket, HTTP, CoAP, AMQP): may this client
/// publish to a topic, may it subscribe to a filter. Called on every publish, so implementations
/// must be fast and should not allocate on that path. A subscription is checked once, when it is
/// made; deliveries are not re-checked (see <see cref="AclFileAuthorizer"/> for what that means
/// when the rules change).
/// </summary>
public interface IAuthorizer
{
    /// <summary>May <paramref name="identity"/> publish to <paramref name="topic"/> (a topic name)?</summary>
    bool CanPublish(ClientIdentity identity, string topic);

    /// <summary>
    /// May <paramref name="identity"/> subscribe to <paramref name="filter"/>? A shared subscription
    /// <c>$share/{group}/{filter}</c> is judged by its inner filter. A topic name is a filter too,
    /// so this also answers "may it read this topic's retained value".
    /// </summary>
    bool CanSubscribe(ClientIdentity identity, string filter);

    /// <summary>The decision with the rule that made it (for <c>GET /api/v1/acl/explain</c> and logs).</summary>
    AclDecision Explain(ClientIdentity identity, string topicOrFilter, AclAction action);
}

/// <summary>Topics only the broker writes.</summary>
public static class ReservedTopics
{
    /// <summary>
    /// <c>$SYS</c> and below: the broker's own state (MQTT-4.7.2 leaves `$` topics to the server;
    /// a client's retained "$SYS/broker/uptime" would mislead every dashboard).
    /// </summary>
    public static bool IsSystem(string topic) =>
        topic.StartsWith("$SYS", StringComparison.Ordinal) && (topic.Length == 4 || topic[4] == '/');
}

/// <summary>Everybody may do everything but publish to <c>$SYS</c>: the authorizer when no ACL file is configured.</summary>
public sealed class AllowAllAuthorizer : IAuthorizer
{
    public static AllowAllAuthorizer Instance { get; } = new();

    public bool CanPublish(ClientIdentity identity, string topic) => !ReservedTopics.IsSystem(topic);

    public bool CanSubscribe(ClientIdentity identity, string filter) => true;

    public AclDecision Explain(ClientIdentity identity, string topicOrFilter, AclAction action) =>
        action == AclAction.Publish && ReservedTopics.IsSystem(topicOrFilter)
            ? new(false, "$SYS topics are written by the broker only")
            : new(true, "no ACL file is configured (Auth:AclFile): everything is allowed");
}
