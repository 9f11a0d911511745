using System.Text;
using Cicada.Core;
using Cicada.Core.Limits;
using Cicada.Core.Topics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Http.Rest;

/// <summary>
/// <c>/api/v1/topics/{topic}</c>: publish (POST/PUT), read the retained message (GET), clear it
/// (DELETE) — MQTT's topic semantics over plain HTTP.
/// </summary>
internal static partial class TopicEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        var topics = api.MapGroup("/topics").WithTags("Topics");
        topics.MapMethods("/{**topic}", [HttpMethods.Post, HttpMethods.Put], PublishAsync)
            .WithSummary("Publish the body to the topic (?qos=0|1|2&retain=true|false)")
            .Produces<PublishResult>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        topics.MapGet("/{**topic}", GetRetained)
            .WithSummary("The topic's retained payload, with its content type")
            .ProducesProblem(StatusCodes.Status404NotFound);
        topics.MapDelete("/{**topic}", ClearAsync)
            .WithSummary("Clear the topic's retained message")
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task<IResult> PublishAsync(string topic, HttpContext context, Broker broker, IOptions<HttpOptions> options,
        ConnectionLimiter limiter, ILoggerFactory loggers)
    {
        if ((Resolve(context, ref topic) ?? CheckTopic(topic) ?? HttpAcl.CheckWrite(context, topic)) is { } bad)
        {
            return bad;
        }

        // Limits:MaxPublishesPerSecond: HTTP has no connection per client, so it counts per IP address.
        var ip = context.Connection.RemoteIpAddress;
        if (!limiter.AllowsPublishFrom("http", ip is null ? null : new System.Net.IPEndPoint(ip, context.Connection.RemotePort), out var retryAfter))
        {
            context.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Problems.Create(StatusCodes.Status429TooManyRequests, "Publishing too fast from this address (Limits:MaxPublishesPerSecond).");
        }

        var query = context.Request.Query;
        var qos = QoS.AtMostOnce;
        if (query.TryGetValue("qos", out var qosText))
        {
            if (qosText.ToString() is not ("0" or "1" or "2"))
            {
                return Problems.InvalidField("qos", "must be 0, 1 or 2");
            }

            qos = (QoS)(qosText.ToString()[0] - '0');
        }

        var retain = false;
        if (query.TryGetValue("retain", out var retainText) && !TryParseFlag(retainText.ToString(), out retain))
        {
            return Problems.InvalidField("retain", "must be true or false");
        }

        var limit = options.Value.MaxBodySize;
        var body = await RequestBody.ReadAsync(context.Request, limit, context.RequestAborted);
        if (body is null)
        {
            return Problems.TooLarge(limit);
        }

        var contentType = context.Request.ContentType;
        var properties = string.IsNullOrEmpty(contentType) ? null : new MessageProperties { ContentType = contentType };

        // PublishAsync completes once what must be durable is (retained message, queue entries of
        // persistent QoS 1/2 subscribers): the 2xx is the HTTP form of PUBACK/PUBCOMP.
        try
        {
            await broker.PublishAsync(new Message(topic, body, qos, retain, properties));
        }
        catch (Exception ex)
        {
            // The store could not make it durable (disk full, read-only data folder): 503 tells the
            // client to retry later (RFC 9110 §15.6.4) instead of a 2xx for a message a crash would lose.
            LogPublishNotStored(loggers.CreateLogger(typeof(TopicEndpoints)), ex, topic);
            return Problems.Create(StatusCodes.Status503ServiceUnavailable, "The message could not be stored; try again later.");
        }

        return TypedResults.Json(new PublishResult(topic, (int)qos, retain, body.Length), HttpJsonContext.Default.PublishResult);
    }

    private static IResult GetRetained(string topic, HttpContext context, Broker broker)
    {
        if ((Resolve(context, ref topic) ?? CheckTopic(topic) ?? HttpAcl.CheckRead(context, topic)) is { } bad)
        {
            return bad;
        }

        var message = broker.Retained.Get(topic);
        if (message is null || message.IsExpired(broker.Time.GetUtcNow()))
        {
            return Problems.NotFound($"No retained message on '{topic}'.");
        }

        return Results.Bytes(message.Payload, message.Properties?.ContentType ?? "application/octet-stream");
    }

    private static async Task<IResult> ClearAsync(string topic, HttpContext context, Broker broker)
    {
        // Clearing a retained message is a publish (of an empty retained message): write.
        if ((Resolve(context, ref topic) ?? CheckTopic(topic) ?? HttpAcl.CheckWrite(context, topic)) is { } bad)
        {
            return bad;
        }

        if (broker.Retained.Get(topic) is null)
        {
            return Problems.NotFound($"No retained message on '{topic}'.");
        }

        // An empty retained message clears the topic (MQTT-3.3.1-10/11) and reaches current
        // subscribers like any other publish, exactly as if an MQTT client had sent it.
        await broker.PublishAsync(new Message(topic, ReadOnlyMemory<byte>.Empty, QoS.AtMostOnce, retain: true));
        return Results.NoContent();
    }

    /// <summary>
    /// The topic the URL names: everything after <c>/api/v1/topics/</c>, percent-decoded once
    /// (RFC 3986 §2.1), so <c>%2F</c> is a level separator like <c>/</c> and <c>%25</c> a literal
    /// <c>%</c>; not UTF-8 or a dot segment is a 400 (<see cref="RequestTarget"/>).
    /// </summary>
    private static IResult? Resolve(HttpContext context, ref string topic)
    {
        var (value, error) = RequestTarget.Value(context, first: 3, toEnd: true, "topic", topic);
        topic = value ?? topic;
        return error;
    }

    /// <summary>A topic name to publish to or read: MQTT's rules (no wildcards, not empty, no U+0000, ≤ 65,535 bytes).</summary>
    internal static IResult? CheckTopic(string? topic)
    {
        if (string.IsNullOrEmpty(topic) || !TopicValidator.IsValidTopicName(topic))
        {
            return Problems.InvalidField("topic", "must be a non-empty MQTT topic name without '+', '#' or U+0000 (MQTT-4.7.1-1, MQTT-4.7.3-1)");
        }

        if (Encoding.UTF8.GetByteCount(topic) > TopicValidator.MaxTopicBytes)
        {
            return Problems.InvalidField("topic", $"is longer than {TopicValidator.MaxTopicBytes} UTF-8 bytes (MQTT-1.5.3)");
        }

        return null;
    }

    internal static bool TryParseFlag(string text, out bool value)
    {
        switch (text.ToLowerInvariant())
        {
            case "true" or "1" or "yes":
                value = true;
                return true;
            case "false" or "0" or "no":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    // Debug: the store logs the fault itself once per episode (disk full, read-only, locked), not once per refused request.
    [LoggerMessage(EventId = 22, Level = LogLevel.Debug, Message = "HTTP publish to {Topic} could not be stored; answered 503")]
    private static partial void LogPublishNotStored(ILogger logger, Exception exception, string topic);
}
