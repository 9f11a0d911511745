using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cicada.Core;
using Cicada.Core.Topics;

namespace Cicada.Devices;

/// <summary>
/// A device's state as one JSON object: the retained messages under <c>{root}/state/#</c>, keyed by
/// the topic below <c>state/</c> (<c>{root}/state/power</c> → <c>"power"</c>); payloads that are
/// JSON are embedded as JSON, others as strings. A device with an announced state topic has the
/// one retained message there under <c>"state"</c> (its JSON object's members, when it is one). A
/// grouped Home Assistant device has one member per entity (its key → the retained message at its
/// <c>state_topic</c>); a Homie 4 device one per property value, flat, keyed <c>{node}/{property}</c>
/// (<c>{"engine/speed": 120}</c>), converted by the announced <c>$datatype</c>.
/// </summary>
public static class DeviceState
{
    public static (JsonObject State, string ETag) Read(RetainedMessages retained, DeviceTopics topics, DateTimeOffset now)
    {
        var found = new List<Message>();
        retained.Match(topics.StateFilter, found);
        found.RemoveAll(m => m.IsExpired(now));
        found.Sort(static (a, b) => string.CompareOrdinal(a.Topic, b.Topic));

        var state = new JsonObject();
        if (topics.IsHomie)
        {
            var prefix = topics.Root.Length + 1;
            foreach (var message in found)
            {
                // Homie 4 §Topic IDs: attributes start with '$'; "{node}/{property}" are the values.
                var key = message.Topic[prefix..];
                if (key.Length > 0 && key[0] != '$' && !key.Contains("/$", StringComparison.Ordinal))
                {
                    topics.Properties.TryGetValue(key, out var property);
                    state[key] = HomieValue(message.Payload, property?.Datatype);
                }
            }
        }
        else if (topics.Entities.Count > 0)
        {
            foreach (var (key, entity) in topics.Entities)
            {
                if (entity.StateTopic is not null && retained.Get(entity.StateTopic) is { } message && !message.IsExpired(now))
                {
                    state[key] = Value(message.Payload);
                }
            }
        }
        else if (topics.StateTopic is not null)
        {
            if (found.Count > 0)
            {
                if (Value(found[0].Payload) is JsonObject members)
                {
                    state = members;
                }
                else
                {
                    state["state"] = Value(found[0].Payload);
                }
            }
        }
        else
        {
            var prefix = topics.Root.Length + "/state/".Length;
            foreach (var message in found)
            {
                if (message.Topic.Length > prefix)
                {
                    state[message.Topic[prefix..]] = Value(message.Payload);
                }
            }
        }

        // A strong validator of the representation (RFC 9110 §8.8.3): equal bytes, equal tag.
        var bytes = Encoding.UTF8.GetBytes(state.ToJsonString());
        var tag = "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes), 0, 16) + "\"";
        return (state, tag);
    }

    /// <summary>
    /// A Homie value by its datatype (Homie 4 §Payload): integer and float as numbers, boolean as
    /// true/false, string, enum, color, datetime and duration as strings; undeclared as <see cref="Value"/>.
    /// </summary>
    private static JsonNode? HomieValue(ReadOnlyMemory<byte> payload, string? datatype)
    {
        var text = Encoding.UTF8.GetString(payload.Span);
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        return datatype switch
        {
            "integer" when long.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, invariant, out var i) => JsonValue.Create(i),
            "float" when double.TryParse(text, System.Globalization.NumberStyles.Float, invariant, out var d) && double.IsFinite(d) => JsonValue.Create(d),
            "boolean" when text is "true" or "false" => JsonValue.Create(text == "true"),
            "string" or "enum" or "color" or "datetime" or "duration" or "integer" or "float" or "boolean" => JsonValue.Create(text),
            _ => Value(payload),
        };
    }

    /// <summary>A payload as JSON when it parses as JSON, else as a UTF-8 string.</summary>
    private static JsonNode? Value(ReadOnlyMemory<byte> payload)
    {
        try
        {
            var reader = new Utf8JsonReader(payload.Span);
            if (JsonNode.Parse(ref reader) is { } node && reader.BytesConsumed == payload.Length)
            {
                return node;
            }
        }
        catch (JsonException)
        {
        }

        return JsonValue.Create(Encoding.UTF8.GetString(payload.Span));
    }
}
