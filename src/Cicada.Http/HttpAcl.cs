using Cicada.Core.Auth;
using Cicada.Http.Rest;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Cicada.Http;

/// <summary>
/// The ACL at the HTTP edge: the same <see cref="IAuthorizer"/> MQTT asks, with the caller
/// <see cref="HttpAuthMiddleware"/> identified (HTTP Basic, or anonymous). Publishing (POST/PUT,
/// DELETE of a retained message, a device command) needs <c>write</c> on the topic; reading a
/// retained value, a device's state or a live stream needs <c>read</c> on the topic or filter. A
/// denial is a 403 problem (RFC 9110 §15.5.4) naming the topic and the action, answered before
/// anything else about the topic (a 404 would tell a caller what exists where it may not look).
/// </summary>
internal static class HttpAcl
{
    private static readonly object UserKey = new();

    /// <summary>Records who the request is from; null = anonymous. Called once authentication succeeded.</summary>
    public static void SetUser(HttpContext context, string? username) => context.Items[UserKey] = username;

    /// <summary>
    /// The caller as the authorizer sees it. HTTP has no client id, so the connection names the
    /// client (<c>http:{connection}</c>): <c>%c</c> patterns never grant an HTTP caller anything.
    /// </summary>
    public static ClientIdentity Identity(HttpContext context) =>
        new(context.Items.TryGetValue(UserKey, out var user) ? user as string : null, "http:" + context.Connection.Id, "http");

    public static IAuthorizer Authorizer(HttpContext context) =>
        context.RequestServices.GetService<IAuthorizer>() ?? AllowAllAuthorizer.Instance;

    /// <summary>null when the caller may publish to <paramref name="topic"/>, else the 403 to answer.</summary>
    public static IResult? CheckWrite(HttpContext context, string topic)
    {
        var identity = Identity(context);
        return Authorizer(context).CanPublish(identity, topic) ? null : Forbidden(identity, topic, "write");
    }

    /// <summary>null when the caller may read <paramref name="topicOrFilter"/> (a retained value, a subscription), else the 403.</summary>
    public static IResult? CheckRead(HttpContext context, string topicOrFilter)
    {
        var identity = Identity(context);
        return Authorizer(context).CanSubscribe(identity, topicOrFilter) ? null : Forbidden(identity, topicOrFilter, "read");
    }

    /// <summary>
    /// May the caller read this one topic? Asked per item of a listing, so it neither logs nor
    /// counts a denial: leaving out what the caller may not see is not a refused request.
    /// </summary>
    public static bool MayRead(IAuthorizer authorizer, in ClientIdentity identity, string topic) =>
        authorizer is AllowAllAuthorizer || authorizer.Explain(identity, topic, AclAction.Subscribe).Allowed;

    private static IResult Forbidden(in ClientIdentity identity, string topic, string action)
    {
        var who = identity.Username is { } user ? $"User '{user}'" : "An anonymous client";
        return Problems.Create(StatusCodes.Status403Forbidden, $"{who} may not {action} '{topic}' (ACL).", w =>
        {
            w.WriteString("topic", topic);
            w.WriteString("action", action);
        });
    }
}
