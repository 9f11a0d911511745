using System.Text.Json.Nodes;
using Cicada.Core;
using Cicada.Devices;
using Cicada.Http.Rest;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace Cicada.Http.Devices;

/// <summary>
/// A device's state and commands, and the devices behind a gateway: the registry bound to the
/// topic space (see <see cref="DeviceTopics"/>).
/// </summary>
internal static class DeviceControlEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        var devices = api.MapGroup("/devices").WithTags("Devices");
        devices.MapGet("/{identifier}/state", GetState)
            .WithSummary("The retained messages under {root}/state/# as one JSON object (ETag, If-None-Match → 304)");
        devices.MapPost("/{identifier}/commands/{name}", SendCommandAsync)
            .WithSummary("Publish a command (QoS 1, with Response Topic + Correlation Data): 202 at once, or ?wait=5s for the reply (200) or 504");
        api.MapGroup("/gateways").WithTags("Devices").MapGet("/{gateway}/devices", Gateway)
            .WithSummary("The devices behind one controller gateway, with their online state");
    }

    private static IResult NotFound() => Envelope.Create(StatusCodes.Status404NotFound, "Device not found", null);

    private static IResult GetState(string identifier, HttpContext context, DeviceRegistry registry, Broker broker)
    {
        if (DeviceEndpoints.ResolveIdentifier(context, ref identifier) is { } badIdentifier)
        {
            return badIdentifier;
        }

        if (registry.TopicsOf(identifier) is not { } topics)
        {
            return NotFound();
        }

        // Every topic the state is read from (one per entity of a grouped Home Assistant device).
        foreach (var stateTopic in topics.StateTopics)
        {
            if (HttpAcl.CheckRead(context, stateTopic) is { } denied)
            {
                return denied;
            }
        }

        var (state, etag) = DeviceState.Read(broker.Retained, topics, broker.Time.GetUtcNow());
        context.Response.Headers.ETag = etag;
        context.Response.Headers.CacheControl = "no-cache";

        // RFC 9110 §13.1.2: a matching If-None-Match on a GET is answered 304 without a body.
        var inm = context.Request.Headers.IfNoneMatch.ToString();
        if (inm.Length > 0 && (inm.Trim() == "*" || inm.Split(',').Any(t => Weak(t.Trim()) == etag)))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return Envelope.Create(StatusCodes.Status200OK, "Device state", state);
    }

    /// <summary>RFC 9110 §13.1.2 compares with the weak comparison: <c>W/"x"</c> matches <c>"x"</c>.</summary>
    private static string Weak(string tag) => tag.StartsWith("W/", StringComparison.Ordinal) ? tag[2..] : tag;

    private static async Task<IResult> SendCommandAsync(string identifier, string name, HttpContext context, DeviceCommands commands,
        IOptions<HttpOptions> options)
    {
        if (DeviceEndpoints.ResolveIdentifier(context, ref identifier) is { } badIdentifier)
        {
            return badIdentifier;
        }

        TimeSpan? wait = null;
        if (context.Request.Query["wait"].ToString() is { Length: > 0 } waitText)
        {
            if (!DeviceCommands.TryParseWait(waitText, out var parsed))
            {
                return Problems.InvalidField("wait", $"must be a duration such as 5s or 500ms, at most {DeviceCommands.MaxWait.TotalSeconds:0}s");
            }

            wait = parsed;
        }

        // The command is a publish (write on its topic); waiting for the reply reads the reply topic.
        if (commands.TopicsFor(identifier, name) is { } topics
            && (HttpAcl.CheckWrite(context, topics.CommandTopic) ?? (wait is null ? null : HttpAcl.CheckRead(context, topics.ReplyFilter))) is { } denied)
        {
            return denied;
        }

        var body = await RequestBody.ReadAsync(context.Request, options.Value.MaxBodySize, context.RequestAborted);
        if (body is null)
        {
            return Problems.TooLarge(options.Value.MaxBodySize);
        }

        var result = await commands.SendAsync(identifier, name, body, NullIfEmpty(context.Request.ContentType), wait, context.RequestAborted);
        switch (result.Outcome)
        {
            case CommandOutcome.UnknownDevice:
                return NotFound();
            case CommandOutcome.InvalidName:
                return Problems.InvalidField("name", "must be one topic level (no '/', '+' or '#')");
            case CommandOutcome.UnknownCommand:
                return Problems.InvalidField("name", "the device announces no such command (an entity key, or a settable Homie property as node.property)");
            case CommandOutcome.Replied:
                var reply = result.Reply!;
                context.Response.Headers["Correlation-Id"] = result.CorrelationId;
                var contentType = reply.Properties?.ContentType
                    ?? (System.Text.Unicode.Utf8.IsValid(reply.Payload.Span) ? "text/plain; charset=utf-8" : "application/octet-stream");
                return Results.Bytes(reply.Payload.ToArray(), contentType);
            case CommandOutcome.TimedOut:
                return Problems.Create(StatusCodes.Status504GatewayTimeout, $"No reply on '{result.ResponseTopic}' within {wait!.Value.TotalSeconds:0.###}s.", w =>
                {
                    w.WriteString("message", "Device did not reply");
                    w.WriteStartObject("data");
                    Describe(w, result);
                    w.WriteEndObject();
                });
            default:
                return Envelope.Create(StatusCodes.Status202Accepted, "Command sent", new JsonObject
                {
                    ["command_topic"] = result.CommandTopic,
                    ["response_topic"] = result.ResponseTopic,
                    ["correlation_id"] = result.CorrelationId,
                });
        }
    }

    private static void Describe(System.Text.Json.Utf8JsonWriter w, CommandResult result)
    {
        w.WriteString("command_topic", result.CommandTopic);
        w.WriteString("response_topic", result.ResponseTopic);
        w.WriteString("correlation_id", result.CorrelationId);
    }

    private static IResult Gateway(string gateway, HttpContext context, DeviceRegistry registry)
    {
        if (DeviceEndpoints.ResolveIdentifier(context, ref gateway) is { } badGateway)
        {
            return badGateway;
        }

        var (online, views) = registry.Gateway(gateway);
        var items = new JsonArray();
        foreach (var view in views)
        {
            var device = DeviceJson.ToJson(view);

            // Behind an offline gateway a device without a connection of its own cannot be reached.
            device["reachable"] = online || registry.IsConnected(view.Record.Identifier);
            items.Add((JsonNode)device); // the non-generic Add: JsonArray.Add<T> is not Native AOT safe
        }

        return Envelope.Create(StatusCodes.Status200OK, "Gateway devices", items, w =>
        {
            w.WriteStartObject("gateway");
            w.WriteString("identifier", gateway);
            w.WriteBoolean("online", online);
            w.WriteNumber("devices", views.Count);
            w.WriteEndObject();
        });
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;
}
