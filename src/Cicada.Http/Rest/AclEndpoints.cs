using Cicada.Core.Auth;
using Cicada.Core.Topics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Cicada.Http.Rest;

/// <summary>
/// <c>GET /api/v1/acl/explain?user=&amp;client=&amp;topic=&amp;action=read|write</c>: what the ACL
/// decides for a client and which rule decided it (<see cref="IAuthorizer.Explain"/>), the answer to
/// "why was my publish dropped / my subscribe refused". It shows the rules, so it is behind the same
/// authentication as the rest of the API: with <c>Auth:AllowAnonymous</c> off only a user of the
/// users file may ask.
/// </summary>
internal static class AclEndpoints
{
    public static void Map(RouteGroupBuilder api) =>
        api.MapGet("/acl/explain", Explain).WithTags("Broker")
            .WithSummary("Whether user/client may read (subscribe) or write (publish) a topic, and the ACL rule that decides it")
            .ProducesProblem(StatusCodes.Status400BadRequest);

    private static IResult Explain(HttpContext context)
    {
        var query = context.Request.Query;
        var topic = query["topic"].ToString();
        var actionText = query["action"].ToString();
        var user = query["user"].ToString();
        var client = query["client"].ToString();

        AclAction action;
        switch (actionText)
        {
            case "read" or "subscribe":
                action = AclAction.Subscribe;
                break;
            case "write" or "publish":
                action = AclAction.Publish;
                break;
            default:
                return Problems.InvalidField("action", "must be read or write");
        }

        if (topic.Length == 0)
        {
            return Problems.InvalidField("topic", "is required");
        }

        // A write names one topic; a read may be a subscription filter (MQTT-4.7.1-1..3).
        if (action == AclAction.Publish ? !TopicValidator.IsValidTopicName(topic) : !TopicValidator.IsValidSubscriptionFilter(topic))
        {
            return Problems.InvalidField("topic", action == AclAction.Publish
                ? "must be an MQTT topic name (no '+' or '#') to write"
                : "must be an MQTT topic filter ('+' and '#' whole levels, '#' last) to read");
        }

        // No user = the anonymous client; no client id = one no %c pattern applies to.
        var identity = new ClientIdentity(user.Length == 0 ? null : user, client, "explain");
        var decision = HttpAcl.Authorizer(context).Explain(identity, topic, action);
        return new JsonWriterResult(StatusCodes.Status200OK, "application/json; charset=utf-8", w =>
        {
            w.WriteStartObject();
            if (identity.Username is { } u)
            {
                w.WriteString("user", u);
            }
            else
            {
                w.WriteNull("user");
            }

            w.WriteString("client", client);
            w.WriteString("topic", topic);
            w.WriteString("action", action == AclAction.Publish ? "write" : "read");
            w.WriteBoolean("allowed", decision.Allowed);
            w.WriteString("decision", decision.Allowed ? "allowed" : "denied");
            w.WriteString("reason", decision.Reason);
            if (decision.Rule is { } rule)
            {
                w.WriteStartObject("rule");
                w.WriteString("source", rule.Source);
                w.WriteNumber("line", rule.Line);
                w.WriteString("text", rule.Text);
                if (rule.User is { } section)
                {
                    w.WriteString("user", section);
                }

                w.WriteBoolean("pattern", rule.IsPattern);
                w.WriteBoolean("deny", rule.Deny);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("rule");
            }

            w.WriteEndObject();
        });
    }
}
