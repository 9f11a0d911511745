using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cicada.Core.Storage;

namespace Cicada.Devices;

/// <summary>
/// The registry's JSON: the four required fields, any extra fields (kept verbatim) and the
/// computed ones (<c>online</c>, <c>last_seen</c>, <c>created_at</c>, <c>updated_at</c>), which a
/// client cannot set.
/// </summary>
public static class DeviceJson
{
    public const string Identifier = "identifier";
    public const string Name = "name";
    public const string DeviceType = "device_type";
    public const string ControllerGateway = "controller_gateway";

    public static readonly string[] Required = [Identifier, Name, DeviceType, ControllerGateway];

    private static readonly HashSet<string> Computed = new(StringComparer.Ordinal) { "online", "last_seen", "created_at", "updated_at" };

    public const int MaxFieldLength = 256;

    /// <summary>A field error: which field, what is wrong.</summary>
    public readonly record struct FieldError(string Field, string Error);

    /// <summary>Parses a request body into a JSON object, or names what is wrong with it.</summary>
    public static JsonObject? ParseObject(byte[] body, out FieldError? error)
    {
        error = null;
        JsonNode? node;
        try
        {
            // RFC 8259 §4: with duplicate names "the behavior of software ... is unpredictable", and
            // JsonObject throws ArgumentException on first access (a 500 the HTTP fuzz found): refused
            // here as invalid JSON instead.
            node = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { MaxDepth = 32, AllowDuplicateProperties = false });
        }
        catch (JsonException ex)
        {
            error = new FieldError("body", $"is not valid JSON ({ex.Message})");
            return null;
        }

        if (node is not JsonObject obj)
        {
            error = new FieldError("body", "must be a JSON object");
            return null;
        }

        if (InvalidText(body) is { } invalid)
        {
            error = new FieldError("body", invalid);
            return null;
        }

        return obj;
    }

    /// <summary>
    /// RFC 8259 §8.1 (JSON text is UTF-8) and §8.2 (strings of Unicode characters): the parser checks
    /// neither, and a string holding invalid UTF-8 or an escaped lone surrogate (<c>"\ud800"</c>)
    /// throws InvalidOperationException only when first read — a 500 the HTTP fuzz found. Every name
    /// and string is read once here instead, so such a body is a 400.
    /// </summary>
    private static string? InvalidText(byte[] body)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 32 });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.PropertyName or JsonTokenType.String)
                {
                    _ = reader.GetString();
                }
            }
        }
        catch (InvalidOperationException ex)
        {
            return $"is not valid JSON text (RFC 8259 §8): {ex.Message}";
        }

        return null;
    }

    /// <summary>Checks a required field's value: a non-empty string of at most <see cref="MaxFieldLength"/> characters, no control characters.</summary>
    public static string? CheckString(JsonObject obj, string field, out FieldError? error)
    {
        error = null;
        if (!obj.TryGetPropertyValue(field, out var value) || value is null)
        {
            error = new FieldError(field, "is required");
            return null;
        }

        if (value.GetValueKind() != JsonValueKind.String)
        {
            error = new FieldError(field, "must be a string");
            return null;
        }

        var text = value.GetValue<string>();
        if (string.IsNullOrWhiteSpace(text))
        {
            error = new FieldError(field, "must not be empty");
            return null;
        }

        if (text.Length > MaxFieldLength)
        {
            error = new FieldError(field, $"must be at most {MaxFieldLength} characters");
            return null;
        }

        if (text.Any(char.IsControl))
        {
            error = new FieldError(field, "must not contain control characters");
            return null;
        }

        return text;
    }

    /// <summary>The extra fields of a request (everything but the required and computed ones).</summary>
    public static JsonObject Extras(JsonObject obj)
    {
        var extras = new JsonObject();
        foreach (var (key, value) in obj)
        {
            if (!Required.Contains(key) && !Computed.Contains(key))
            {
                extras[key] = value?.DeepClone();
            }
        }

        return extras;
    }

    public static string? ExtrasText(JsonObject extras) => extras.Count == 0 ? null : extras.ToJsonString();

    public static JsonObject ParseExtras(string? text) =>
        text is null ? [] : JsonNode.Parse(text) as JsonObject ?? [];

    /// <summary>The device as the API shows it: required fields, extras, then the computed ones.</summary>
    public static JsonObject ToJson(DeviceView view)
    {
        var r = view.Record;
        var obj = new JsonObject
        {
            [Identifier] = r.Identifier,
            [Name] = r.Name,
            [DeviceType] = r.DeviceType,
            [ControllerGateway] = r.ControllerGateway,
        };
        foreach (var (key, value) in ParseExtras(r.Attributes))
        {
            obj[key] = value?.DeepClone();
        }

        // The topic root is shown even when it is the default, so clients need not know the rule.
        if (!obj.ContainsKey(DeviceTopics.TopicField))
        {
            obj[DeviceTopics.TopicField] = view.Topics.Root;
        }

        obj["online"] = view.Online;
        obj["last_seen"] = view.LastSeen is { } seen ? Time(seen) : null;
        obj["created_at"] = Time(r.CreatedAt);
        obj["updated_at"] = Time(r.UpdatedAt);
        return obj;
    }

    public static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
