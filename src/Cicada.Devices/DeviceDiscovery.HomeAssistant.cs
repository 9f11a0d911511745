using System.Text.Json;
using System.Text.Json.Nodes;
using Cicada.Core;

namespace Cicada.Devices;

/// <summary>
/// Home Assistant MQTT discovery. Home Assistant announces entities, one config each, and groups
/// them into devices by the config's <c>device</c> block: every config whose
/// <c>device.identifiers</c> starts with the same identifier belongs to ONE registry device (that
/// identifier; name, model, manufacturer and <c>via_device</c> from the block), its entities kept in
/// the field <c>entities</c> by key (the object id; the command name), each with its component,
/// <c>unique_id</c>, <c>state_topic</c>, <c>command_topic</c> and <c>availability_topic</c>. A
/// config without a device block is a device of its own (identifier <c>unique_id</c>). An empty
/// retained config removes its entity, and the device with its last entity.
/// </summary>
public sealed partial class DeviceDiscovery
{
    private const string DiscoveryTopicField = "discovery_topic";

    private async Task HomeAssistantAsync(Message message, string[] levels)
    {
        var component = levels[1];
        var objectId = levels[^2];
        var nodeId = levels.Length == 5 ? levels[2] : null;
        var holder = HolderOf(message.Topic);
        if (message.Payload.IsEmpty)
        {
            if (holder is { } h)
            {
                await RemoveEntityAsync(h, message.Topic);
            }

            return;
        }

        if (JsonNode.Parse(message.Payload.Span.ToArray()) is not JsonObject config)
        {
            throw new FormatException("config is not a JSON object");
        }

        var baseTopic = Text(config, "~");
        string? Topic(params string[] keys)
        {
            var value = keys.Select(k => Text(config, k)).FirstOrDefault(v => v is not null);
            return value is null || baseTopic is null ? value
                : value.StartsWith('~') ? baseTopic + value[1..]
                : value.EndsWith('~') ? value[..^1] + baseTopic
                : value;
        }

        var device = (config["device"] ?? config["dev"]) as JsonObject;
        var ids = device?["identifiers"] ?? device?["ids"];
        var firstId = ids is JsonArray list ? list.Select(n => n is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null)
                .FirstOrDefault(s => !string.IsNullOrEmpty(s))
            : ids is JsonValue one && one.GetValueKind() == JsonValueKind.String ? one.GetValue<string>() : null;
        var uniqueId = Text(config, "unique_id", "uniq_id");
        var identifier = !string.IsNullOrEmpty(firstId) ? firstId : uniqueId ?? (nodeId is null ? objectId : $"{nodeId}_{objectId}");

        // The entity moved to another device (its device block changed): it leaves the old one.
        if (holder is { } previous && previous.Record.Identifier != identifier)
        {
            await RemoveEntityAsync(previous, message.Topic);
        }

        var existing = registry.Get(identifier);
        if (existing is not null && ExtrasOf(existing, HomeAssistantSource) is null)
        {
            LogNotOverwritten(identifier, HomeAssistantSource);
            return;
        }

        var extras = ExtrasOf(existing, HomeAssistantSource) ?? new JsonObject { [DeviceTopics.SourceField] = HomeAssistantSource };
        foreach (var legacy in new[] { DiscoveryTopicField, DeviceTopics.StateTopicField, DeviceTopics.CommandTopicField })
        {
            extras.Remove(legacy); // per-entity now
        }

        var entities = extras[DeviceTopics.EntitiesField] as JsonObject ?? [];
        var key = entities.FirstOrDefault(e => e.Value is JsonObject o && Text(o, DiscoveryTopicField) == message.Topic).Key
            ?? new[] { objectId, $"{component}.{objectId}", $"{component}.{nodeId}.{objectId}" }.FirstOrDefault(k => !entities.ContainsKey(k))
            ?? $"{component}.{objectId}.{Guid.NewGuid():N}";

        var entity = new JsonObject { ["component"] = component, [DiscoveryTopicField] = message.Topic };
        Set(entity, "unique_id", uniqueId);
        Set(entity, "name", Text(config, "name"));
        Set(entity, DeviceTopics.StateTopicField, Topic("state_topic", "stat_t"));
        Set(entity, DeviceTopics.CommandTopicField, Topic("command_topic", "cmd_t"));
        Set(entity, DeviceTopics.AvailabilityTopicField, Topic("availability_topic", "avty_t")
            ?? ((config["availability"] ?? config["avty"]) as JsonArray)?.OfType<JsonObject>().Select(a => Text(a, "topic", "t")).FirstOrDefault());
        entities[key] = entity;
        extras[DeviceTopics.EntitiesField] = entities;

        // The device block describes the physical device; the latest config's block wins.
        if (ids is not null)
        {
            extras["device_identifiers"] = ids.DeepClone();
        }

        Set(extras, "model", Text(device, "model", "mdl"));
        Set(extras, "manufacturer", Text(device, "manufacturer", "mf"));
        var name = Text(device, "name") ?? Text(config, "name") ?? existing?.Record.Name ?? objectId;
        var gateway = Text(device, "via_device") ?? existing?.Record.ControllerGateway ?? message.OriginClientId ?? HomeAssistantSource;
        await UpsertAsync(identifier, name, Summarize(extras), gateway, extras, HomeAssistantSource);
    }

    /// <summary>The discovered device holding the entity announced on <paramref name="discoveryTopic"/>.</summary>
    private DeviceView? HolderOf(string discoveryTopic) =>
        registry.List(null, null, null).Cast<DeviceView?>().FirstOrDefault(v =>
            ExtrasOf(v, HomeAssistantSource) is { } extras
            && (Text(extras, DiscoveryTopicField) == discoveryTopic // registered before entities were grouped
                || (extras[DeviceTopics.EntitiesField] as JsonObject)?.Any(e => e.Value is JsonObject o && Text(o, DiscoveryTopicField) == discoveryTopic) == true));

    private async Task RemoveEntityAsync(DeviceView holder, string discoveryTopic)
    {
        var extras = DeviceJson.ParseExtras(holder.Record.Attributes);
        if (extras[DeviceTopics.EntitiesField] is JsonObject entities
            && entities.FirstOrDefault(e => e.Value is JsonObject o && Text(o, DiscoveryTopicField) == discoveryTopic).Key is { } key)
        {
            entities.Remove(key);
            if (entities.Count > 0)
            {
                var r = holder.Record;
                await UpsertAsync(r.Identifier, r.Name, Summarize(extras), r.ControllerGateway, extras, HomeAssistantSource);
                return;
            }
        }

        // Its last entity is gone: so is the device.
        await registry.DeleteAsync(holder.Record.Identifier);
    }

    /// <summary>
    /// Sets the device-wide fields from its entities (ordered by key, so the result does not depend
    /// on arrival order): its availability is the first announced availability topic, its
    /// <c>device_type</c> (returned) the first entity's component.
    /// </summary>
    private static string Summarize(JsonObject extras)
    {
        var entities = (extras[DeviceTopics.EntitiesField] as JsonObject ?? []).Where(e => e.Value is JsonObject)
            .OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => (JsonObject)e.Value!).ToList();
        extras.Remove(DeviceTopics.AvailabilityTopicField);
        Set(extras, DeviceTopics.AvailabilityTopicField, entities.Select(e => Text(e, DeviceTopics.AvailabilityTopicField)).FirstOrDefault(t => t is not null));
        return entities.Select(e => Text(e, "component")).FirstOrDefault(c => c is not null) ?? HomeAssistantSource;
    }
}
