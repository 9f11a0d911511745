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
/// one retained message there under <c>"state"</c> (its JSON object's members, when it is one).
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
        if (topics.StateTopic is not null)
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
