using Cicada.Core;
using Cicada.Core.Topics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Cicada.Http.Rest;

/// <summary>Read-only views of the broker: clients, subscriptions, retained messages, health.</summary>
internal static class BrokerStateEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/clients", Clients).WithTags("Broker").WithSummary("Connected clients (any protocol) and persistent sessions")
            .Produces<ClientInfo[]>();
        api.MapGet("/subscriptions", Subscriptions).WithTags("Broker").WithSummary("Every subscription of every session")
            .Produces<SubscriptionInfo[]>();
        api.MapGet("/retained", Retained).WithTags("Broker").WithSummary("Retained messages matching ?filter= (default #) that the caller may read")
            .Produces<MessageInfo[]>().ProducesProblem(StatusCodes.Status400BadRequest);
    }

    private static IResult Clients(Broker broker)
    {
        var list = new List<ClientInfo>();
        foreach (var session in broker.Sessions)
        {
            var link = session.ConnectedLink;
            list.Add(new ClientInfo(
                session.ClientId,
                link is not null,
                link?.Protocol,
                link?.RemoteEndPoint?.ToString(),
                link?.ConnectedAt,
                session.IsPersistent,
                session.Subscriptions.Count,
                session.PendingCount,
                session.InflightCount,
                session.Dropped));
        }

        list.Sort(static (a, b) => string.CompareOrdinal(a.ClientId, b.ClientId));
        return TypedResults.Json(list.ToArray(), HttpJsonContext.Default.ClientInfoArray);
    }

    private static IResult Subscriptions(Broker broker)
    {
        var list = new List<SubscriptionInfo>();
        foreach (var session in broker.Sessions)
        {
            foreach (var (filter, options) in session.Subscriptions)
            {
                list.Add(new SubscriptionInfo(session.ClientId, filter, (int)options.MaxQos, options.NoLocal, options.RetainAsPublished));
            }
        }

        list.Sort(static (a, b) => string.CompareOrdinal(a.ClientId, b.ClientId) is var c and not 0 ? c : string.CompareOrdinal(a.Filter, b.Filter));
        return TypedResults.Json(list.ToArray(), HttpJsonContext.Default.SubscriptionInfoArray);
    }

    private static IResult Retained(HttpContext context, Broker broker)
    {
        var filter = context.Request.Query["filter"].ToString();
        if (filter.Length == 0)
        {
            filter = "#";
        }
        else if (!TopicValidator.IsValidTopicFilter(filter))
        {
            return Problems.InvalidField("filter", "must be an MQTT topic filter ('+' and '#' whole levels, '#' last; MQTT-4.7.1-2, MQTT-4.7.1-3)");
        }

        var found = new List<Message>();
        broker.Retained.Match(filter, found);
        var now = broker.Time.GetUtcNow();

        // The listing holds only what the caller may read (the ACL, as for GET /topics/{topic}).
        var authorizer = HttpAcl.Authorizer(context);
        var identity = HttpAcl.Identity(context);
        var result = found.Where(m => !m.IsExpired(now) && HttpAcl.MayRead(authorizer, identity, m.Topic)).OrderBy(m => m.Topic, StringComparer.Ordinal)
            .Select(m => MessageInfo.From(m)).ToArray();
        return TypedResults.Json(result, HttpJsonContext.Default.MessageInfoArray);
    }
}
