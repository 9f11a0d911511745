using System.Text;
using System.Text.Json.Nodes;
using Cicada.Core;

namespace Cicada.Devices;

/// <summary>
/// Homie 4: the device id is the identifier, its root <c>homie/{id}</c>, <c>$state</c> its
/// availability, its first node's (in <c>$nodes</c> order) <c>$type</c> its <c>device_type</c>. <c>$nodes</c>, each node's
/// <c>$properties</c> and each property's <c>$settable</c>, <c>$datatype</c>, <c>$name</c> and
/// <c>$unit</c> are kept in the field <c>properties</c> (keyed <c>{node}/{property}</c>), which the
/// state (values) and the commands (settable ones) follow.
/// </summary>
public sealed partial class DeviceDiscovery
{
    private static readonly string[] PropertyAttributes = ["$settable", "$datatype", "$name", "$unit"];

    private async Task HomieAsync(Message message, string[] levels)
    {
        var id = levels[1];
        var value = Encoding.UTF8.GetString(message.Payload.Span);
        var existing = registry.Get(id);
        var extras = ExtrasOf(existing, HomieSource);
        if (existing is not null && extras is null)
        {
            LogNotOverwritten(id, HomieSource);
            return;
        }

        if (value.Length == 0)
        {
            // Homie §Device lifecycle: a device is removed by clearing its retained attributes;
            // clearing the rest after $name must not bring it back.
            if (existing is not null && levels is [_, _, "$name"])
            {
                await registry.DeleteAsync(id);
                return;
            }

            if (existing is null)
            {
                return;
            }
        }

        extras ??= [];
        extras[DeviceTopics.SourceField] = HomieSource;
        extras[DeviceTopics.TopicField] = $"homie/{id}";
        extras[DeviceTopics.AvailabilityTopicField] = $"homie/{id}/$state";
        var properties = extras[DeviceTopics.PropertiesField] as JsonObject ?? [];
        var nodeTypes = extras["node_types"] as JsonObject ?? [];
        switch (levels)
        {
            case [_, _, var node, "$type"]:
                if (value.Length > 0)
                {
                    nodeTypes[node] = value;
                }
                else
                {
                    nodeTypes.Remove(node);
                }

                break;
            case [_, _, "$nodes"]:
                extras["nodes"] = new JsonArray(List(value).Select(n => (JsonNode?)JsonValue.Create(n)).ToArray());
                break;
            case [_, _, var node, "$properties"]:
                // The node's property list is authoritative: unlisted properties are gone.
                var listed = List(value).ToHashSet(StringComparer.Ordinal);
                foreach (var stale in properties.Select(p => p.Key).Where(k => k.StartsWith(node + "/", StringComparison.Ordinal)).ToList())
                {
                    if (!listed.Contains(stale[(node.Length + 1)..]))
                    {
                        properties.Remove(stale);
                    }
                }

                foreach (var property in listed.Where(p => !properties.ContainsKey($"{node}/{p}")))
                {
                    properties[$"{node}/{property}"] = new JsonObject();
                }

                break;
            case [_, _, var node, var property, var attribute] when PropertyAttributes.Contains(attribute):
                var key = $"{node}/{property}";
                if (properties[key] is not JsonObject attributes)
                {
                    properties[key] = attributes = [];
                }

                if (value.Length == 0)
                {
                    attributes.Remove(attribute[1..]);
                }
                else
                {
                    // Homie 4 §Property attributes: $settable is "true" or "false".
                    attributes[attribute[1..]] = attribute == "$settable" ? JsonValue.Create(value == "true") : JsonValue.Create(value);
                }

                break;
        }

        extras[DeviceTopics.PropertiesField] = properties;
        var name = levels is [_, _, "$name"] ? value : existing?.Record.Name ?? id;
        extras["node_types"] = nodeTypes;

        // Deterministic whatever the arrival order: the first listed node with a type, else the first typed node.
        var nodes = (extras["nodes"] as JsonArray ?? []).Select(n => n?.GetValue<string>()).OfType<string>();
        var type = nodes.Concat(nodeTypes.Select(t => t.Key)).Select(n => nodeTypes[n]?.GetValue<string>()).FirstOrDefault(t => t is not null)
            ?? HomieSource;
        await UpsertAsync(id, name, type, existing?.Record.ControllerGateway ?? message.OriginClientId ?? id, extras, HomieSource);
    }

    private static IEnumerable<string> List(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
