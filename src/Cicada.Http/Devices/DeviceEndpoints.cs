using System.Globalization;
using System.Text.Json.Nodes;
using Cicada.Core;
using Cicada.Core.Storage;
using Cicada.Devices;
using Cicada.Http.Rest;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using static Cicada.Devices.DeviceJson;

namespace Cicada.Http.Devices;

/// <summary>
/// <c>/api/v1/devices</c>: the registry in the envelope <c>{"message": …, "data": …}</c> its
/// home-automation clients expect; errors are problem+json that also carry <c>message</c>.
/// </summary>
internal static class DeviceEndpoints
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 500;

    private static readonly string[] TopicFields =
        [DeviceTopics.TopicField, DeviceTopics.StateTopicField, DeviceTopics.CommandTopicField, DeviceTopics.AvailabilityTopicField];

    public static void Map(RouteGroupBuilder api)
    {
        var devices = api.MapGroup("/devices").WithTags("Devices");
        devices.MapPost("/", RegisterAsync).WithSummary("Register a device (identifier, name, device_type, controller_gateway; extra fields kept)")
            .Accepts<JsonObject>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict);
        devices.MapGet("/", List).WithSummary("List devices (?page=&page_size=&device_type=&controller_gateway=&online=)");
        devices.MapGet("/{identifier}", Get).WithSummary("One device");
        devices.MapPut("/{identifier}", ReplaceAsync).WithSummary("Replace a device's fields (all required fields)")
            .Accepts<JsonObject>("application/json").ProducesProblem(StatusCodes.Status400BadRequest);
        devices.MapPatch("/{identifier}", PatchAsync).WithSummary("Merge fields into a device (RFC 7396: null removes an extra field)")
            .Accepts<JsonObject>("application/merge-patch+json", "application/json").ProducesProblem(StatusCodes.Status400BadRequest);
        devices.MapDelete("/{identifier}", DeleteAsync).WithSummary("Remove a device");
    }

    private static IResult NotFound() => Envelope.Create(StatusCodes.Status404NotFound, "Device not found", null);

    private static IResult Invalid(FieldError error) => Problems.InvalidField(error.Field, error.Error, "Invalid device");

    private static async Task<(JsonObject? Body, IResult? Error)> ReadAsync(HttpContext context, long limit)
    {
        var bytes = await RequestBody.ReadAsync(context.Request, limit, context.RequestAborted);
        if (bytes is null)
        {
            return (null, Problems.TooLarge(limit));
        }

        var obj = ParseObject(bytes, out var error);
        if (obj is null)
        {
            return (null, Invalid(error!.Value));
        }

        foreach (var field in TopicFields)
        {
            if (DeviceTopics.CheckTopic(obj, field) is { } topicError)
            {
                return (null, Invalid(new FieldError(field, topicError)));
            }
        }

        return (obj, null);
    }

    private static async Task<IResult> RegisterAsync(HttpContext context, DeviceRegistry registry, Broker broker, IOptions<HttpOptions> options)
    {
        var (body, bad) = await ReadAsync(context, options.Value.MaxBodySize);
        if (body is null)
        {
            return bad!;
        }

        var values = new string[Required.Length];
        for (var i = 0; i < Required.Length; i++)
        {
            var value = CheckString(body, Required[i], out var error);
            if (value is null)
            {
                return Invalid(error!.Value);
            }

            values[i] = value;
        }

        var now = broker.Time.GetUtcNow();
        var record = new DeviceRecord(values[0], values[1], values[2], values[3], ExtrasText(Extras(body)), now, now, null);
        var (outcome, view) = await registry.AddAsync(record);
        if (outcome == DeviceChange.Duplicate)
        {
            return Problems.Create(StatusCodes.Status409Conflict, $"A device with identifier '{record.Identifier}' is already registered.", w =>
            {
                w.WriteString("message", "Device already registered");
                w.WritePropertyName("data");
                ToJson(view!.Value).WriteTo(w);
            });
        }

        context.Response.Headers.Location = $"/api/v1/devices/{Uri.EscapeDataString(record.Identifier)}";
        return Envelope.Create(StatusCodes.Status201Created, "Device registered", ToJson(view!.Value));
    }

    private static IResult List(HttpContext context, DeviceRegistry registry)
    {
        var query = context.Request.Query;
        if (!TryPositive(query["page"].ToString(), 1, int.MaxValue, out var page))
        {
            return Problems.InvalidField("page", "must be a whole number from 1");
        }

        if (!TryPositive(query["page_size"].ToString(), DefaultPageSize, MaxPageSize, out var pageSize))
        {
            return Problems.InvalidField("page_size", $"must be a whole number from 1 to {MaxPageSize}");
        }

        bool? online = null;
        if (query["online"].ToString() is { Length: > 0 } onlineText)
        {
            if (!TopicEndpoints.TryParseFlag(onlineText, out var flag))
            {
                return Problems.InvalidField("online", "must be true or false");
            }

            online = flag;
        }

        var all = registry.List(NullIfEmpty(query["device_type"].ToString()), NullIfEmpty(query["controller_gateway"].ToString()), online);
        var items = new JsonArray();
        foreach (var view in all.Skip((int)Math.Min((long)(page - 1) * pageSize, int.MaxValue)).Take(pageSize))
        {
            items.Add((JsonNode)ToJson(view)); // the non-generic Add: JsonArray.Add<T> is not Native AOT safe
        }

        return Envelope.Create(StatusCodes.Status200OK, "Devices found", items, w =>
        {
            w.WriteStartObject("meta");
            w.WriteNumber("page", page);
            w.WriteNumber("page_size", pageSize);
            w.WriteNumber("total", all.Count);
            w.WriteEndObject();
        });
    }

    private static IResult Get(string identifier, HttpContext context, DeviceRegistry registry) =>
        ResolveIdentifier(context, ref identifier) ?? (registry.Get(identifier) is { } view
            ? Envelope.Create(StatusCodes.Status200OK, "Device found", ToJson(view))
            : NotFound());

    private static async Task<IResult> ReplaceAsync(string identifier, HttpContext context, DeviceRegistry registry, IOptions<HttpOptions> options)
    {
        if (ResolveIdentifier(context, ref identifier) is { } badIdentifier)
        {
            return badIdentifier;
        }

        var (body, bad) = await ReadAsync(context, options.Value.MaxBodySize);
        if (body is null)
        {
            return bad!;
        }

        if (CheckIdentifier(body, identifier) is { } mismatch)
        {
            return mismatch;
        }

        var values = new string[Required.Length];
        for (var i = 1; i < Required.Length; i++)
        {
            var value = CheckString(body, Required[i], out var error);
            if (value is null)
            {
                return Invalid(error!.Value);
            }

            values[i] = value;
        }

        var extras = ExtrasText(Extras(body));
        var (outcome, view) = await registry.UpdateAsync(identifier, r => r with
        {
            Name = values[1],
            DeviceType = values[2],
            ControllerGateway = values[3],
            Attributes = extras,
        });
        return outcome == DeviceChange.NotFound ? NotFound() : Envelope.Create(StatusCodes.Status200OK, "Device updated", ToJson(view!.Value));
    }

    private static async Task<IResult> PatchAsync(string identifier, HttpContext context, DeviceRegistry registry, IOptions<HttpOptions> options)
    {
        if (ResolveIdentifier(context, ref identifier) is { } badIdentifier)
        {
            return badIdentifier;
        }

        var (body, bad) = await ReadAsync(context, options.Value.MaxBodySize);
        if (body is null)
        {
            return bad!;
        }

        if (CheckIdentifier(body, identifier) is { } mismatch)
        {
            return mismatch;
        }

        // Required fields may change but not go away; RFC 7396: null removes a member.
        var changes = new string?[Required.Length];
        for (var i = 1; i < Required.Length; i++)
        {
            if (body.ContainsKey(Required[i]))
            {
                var value = CheckString(body, Required[i], out var error);
                if (value is null)
                {
                    return Invalid(error!.Value with { Error = error.Value.Error == "is required" ? "cannot be removed" : error.Value.Error });
                }

                changes[i] = value;
            }
        }

        var patch = Extras(body);
        var (outcome, view) = await registry.UpdateAsync(identifier, r =>
        {
            var extras = ParseExtras(r.Attributes);
            foreach (var (key, value) in patch)
            {
                if (value is null)
                {
                    extras.Remove(key);
                }
                else
                {
                    extras[key] = value.DeepClone();
                }
            }

            return r with
            {
                Name = changes[1] ?? r.Name,
                DeviceType = changes[2] ?? r.DeviceType,
                ControllerGateway = changes[3] ?? r.ControllerGateway,
                Attributes = ExtrasText(extras),
            };
        });
        return outcome == DeviceChange.NotFound ? NotFound() : Envelope.Create(StatusCodes.Status200OK, "Device updated", ToJson(view!.Value));
    }

    private static async Task<IResult> DeleteAsync(string identifier, HttpContext context, DeviceRegistry registry) =>
        ResolveIdentifier(context, ref identifier)
        ?? (await registry.DeleteAsync(identifier) == DeviceChange.NotFound ? NotFound() : Results.NoContent());

    /// <summary>
    /// The identifier the URL names, percent-decoded once (RFC 3986 §2.1): an identifier holding a
    /// '/' is reached at the <c>Location</c> registration answered (<c>a%2Fb</c>), which the routed
    /// value (still <c>a%2Fb</c>) never matched. Also used by <see cref="DeviceControlEndpoints"/>.
    /// </summary>
    internal static IResult? ResolveIdentifier(HttpContext context, ref string identifier)
    {
        var (value, error) = RequestTarget.Value(context, first: 3, toEnd: false, Identifier, identifier);
        identifier = value ?? identifier;
        return error;
    }

    /// <summary>An identifier in an update body must name the device of the URL: identifiers are not renamed.</summary>
    private static IResult? CheckIdentifier(JsonObject body, string identifier)
    {
        if (!body.ContainsKey(Identifier))
        {
            return null;
        }

        var value = CheckString(body, Identifier, out var error);
        if (value is null)
        {
            return Invalid(error!.Value);
        }

        return value == identifier ? null : Invalid(new FieldError(Identifier, "does not match the device in the URL (identifiers cannot be changed)"));
    }

    private static bool TryPositive(string text, int fallback, int max, out int value)
    {
        if (text.Length == 0)
        {
            value = fallback;
            return true;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= 1 && value <= max;
    }

    private static string? NullIfEmpty(string text) => text.Length == 0 ? null : text;
}
