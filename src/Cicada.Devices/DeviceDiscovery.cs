using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cicada.Core;
using Cicada.Core.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cicada.Devices;

/// <summary>
/// Registers devices that announce themselves: Home Assistant MQTT discovery
/// (<c>homeassistant/{component}/[{node_id}/]{object_id}/config</c>, retained JSON; an empty
/// retained config removes the entity, as Home Assistant does) and Homie 4 (<c>homie/{id}/$name</c>,
/// <c>$state</c>, node <c>$type</c>). An in-process Core session subscribes to both, with the
/// retained announcements, and maps them onto the registry's fields with <c>source</c> set;
/// announced topics replace the default root. A device registered by hand is never overwritten.
/// </summary>
public sealed partial class DeviceDiscovery(DeviceRegistry registry, Broker broker, ILogger<DeviceDiscovery> logger) : IHostedService
{
    public const string HomeAssistantSource = "homeassistant";
    public const string HomieSource = "homie";

    private static readonly string[] Filters =
        ["homeassistant/+/+/config", "homeassistant/+/+/+/config", "homie/+/$name", "homie/+/$state", "homie/+/+/$type"];

    private InternalSubscriber? _subscriber;

    // Announcements are applied one after another, in arrival order (a config and its removal
    // must not overtake each other); the subscriber's drain is already serialized.
    private Task _chain = Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _subscriber = InternalSubscriber.Connect(broker, "discovery", m => _chain = _chain.ContinueWith(_ => HandleAsync(m),
            CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap());
        foreach (var filter in Filters)
        {
            await _subscriber.SubscribeAsync(filter, withRetained: true);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _subscriber?.Dispose();
        return Task.CompletedTask;
    }

    private async Task HandleAsync(Message message)
    {
        try
        {
            var levels = message.Topic.Split('/');
            if (levels[0] == "homeassistant")
            {
                await HomeAssistantAsync(message, levels);
            }
            else
            {
                await HomieAsync(message, levels);
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            LogBadAnnouncement(message.Topic, ex.Message);
        }
    }

    /// <summary>Home Assistant MQTT discovery: one config per entity, abbreviations and <c>~</c> expanded.</summary>
    private async Task HomeAssistantAsync(Message message, string[] levels)
    {
        var component = levels[1];
        var objectId = levels[^2];
        var nodeId = levels.Length == 5 ? levels[2] : null;
        if (message.Payload.IsEmpty)
        {
            // An empty retained config removes the entity.
            var gone = registry.List(null, null, null).FirstOrDefault(v => DiscoveryTopicOf(v.Record) == message.Topic);
            if (gone.Record is not null)
            {
                await registry.DeleteAsync(gone.Record.Identifier);
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
        var identifier = Text(config, "unique_id", "uniq_id") ?? (nodeId is null ? objectId : $"{nodeId}_{objectId}");
        var name = Text(device, "name") ?? Text(config, "name") ?? objectId;
        var gateway = Text(device, "via_device") ?? message.OriginClientId ?? HomeAssistantSource;
        var availability = Topic("availability_topic", "avty_t")
            ?? ((config["availability"] ?? config["avty"]) as JsonArray)?.OfType<JsonObject>().Select(a => Text(a, "topic", "t")).FirstOrDefault();

        var extras = new JsonObject
        {
            [DeviceTopics.SourceField] = HomeAssistantSource,
            ["discovery_topic"] = message.Topic,
        };
        Set(extras, DeviceTopics.StateTopicField, Topic("state_topic", "stat_t"));
        Set(extras, DeviceTopics.CommandTopicField, Topic("command_topic", "cmd_t"));
        Set(extras, DeviceTopics.AvailabilityTopicField, availability);
        if ((device?["identifiers"] ?? device?["ids"]) is { } ids)
        {
            extras["device_identifiers"] = ids.DeepClone();
        }

        await UpsertAsync(identifier, name, component, gateway, extras, HomeAssistantSource);
    }

    /// <summary>Homie 4: the device id is the identifier, its root <c>homie/{id}</c>, <c>$state</c> its availability.</summary>
    private async Task HomieAsync(Message message, string[] levels)
    {
        var id = levels[1];
        var value = Encoding.UTF8.GetString(message.Payload.Span);
        var existing = registry.Get(id);
        if (existing is { } view && DeviceTopics.Of(view.Record).Source != HomieSource)
        {
            return;
        }

        if (levels is [_, _, "$name"] && value.Length == 0)
        {
            // Homie §Device lifecycle: a device is removed by clearing its retained attributes.
            if (existing is not null)
            {
                await registry.DeleteAsync(id);
            }

            return;
        }

        var name = levels is [_, _, "$name"] ? value : existing?.Record.Name ?? id;
        var type = levels is [_, _, _, "$type"] && value.Length > 0 ? value : existing?.Record.DeviceType ?? HomieSource;
        var extras = new JsonObject
        {
            [DeviceTopics.SourceField] = HomieSource,
            [DeviceTopics.TopicField] = $"homie/{id}",
            [DeviceTopics.AvailabilityTopicField] = $"homie/{id}/$state",
        };
        await UpsertAsync(id, name, type, message.OriginClientId ?? id, extras, HomieSource);
    }

    private async Task UpsertAsync(string identifier, string name, string deviceType, string gateway, JsonObject extras, string source)
    {
        var now = broker.Time.GetUtcNow();
        if (registry.Get(identifier) is not { } current)
        {
            await registry.AddAsync(new DeviceRecord(identifier, name, deviceType, gateway, extras.ToJsonString(), now, now, null));
            LogDiscovered(source, identifier);
            return;
        }

        if (DeviceTopics.Of(current.Record).Source != source)
        {
            LogNotOverwritten(identifier, source);
            return;
        }

        var text = extras.ToJsonString();
        var r = current.Record;
        if (r.Name != name || r.DeviceType != deviceType || r.ControllerGateway != gateway || r.Attributes != text)
        {
            await registry.UpdateAsync(identifier, d => d with { Name = name, DeviceType = deviceType, ControllerGateway = gateway, Attributes = text });
        }
    }

    private static string? DiscoveryTopicOf(DeviceRecord record) =>
        record.Attributes is { } a && JsonNode.Parse(a) is JsonObject o ? Text(o, "discovery_topic") : null;

    private static void Set(JsonObject obj, string key, string? value)
    {
        if (value is not null)
        {
            obj[key] = value;
        }
    }

    private static string? Text(JsonObject? obj, params string[] keys)
    {
        foreach (var key in keys)
        {
            if (obj?[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() is { Length: > 0 } s)
            {
                return s;
            }
        }

        return null;
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Discovered device {Identifier} ({Source})")]
    private partial void LogDiscovered(string source, string identifier);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "Announcement for {Identifier} ({Source}) ignored: a device registered otherwise has that identifier")]
    private partial void LogNotOverwritten(string identifier, string source);

    [LoggerMessage(EventId = 22, Level = LogLevel.Warning, Message = "Discovery announcement on {Topic} ignored: {Reason}")]
    private partial void LogBadAnnouncement(string topic, string reason);
}
