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
/// retained config removes the entity, as Home Assistant does; see DeviceDiscovery.HomeAssistant.cs)
/// and Homie 4 (<c>homie/{id}/$name</c>, <c>$state</c>, <c>$nodes</c>, node <c>$type</c> and
/// <c>$properties</c>, property attributes; see DeviceDiscovery.Homie.cs). An in-process Core session subscribes to both, with the
/// retained announcements, and maps them onto the registry's fields with <c>source</c> set;
/// announced topics replace the default root. A device registered by hand is never overwritten.
/// </summary>
public sealed partial class DeviceDiscovery(DeviceRegistry registry, Broker broker, ILogger<DeviceDiscovery> logger) : IHostedService
{
    public const string HomeAssistantSource = "homeassistant";
    public const string HomieSource = "homie";

    private static readonly string[] Filters =
        ["homeassistant/+/+/config", "homeassistant/+/+/+/config", "homie/+/$name", "homie/+/$state", "homie/+/$nodes", "homie/+/+/$type",
         "homie/+/+/$properties", "homie/+/+/+/$settable", "homie/+/+/+/$datatype", "homie/+/+/+/$name", "homie/+/+/+/$unit"];

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

    /// <summary>The extra fields of a discovered device of <paramref name="source"/>; null for one registered otherwise.</summary>
    private static JsonObject? ExtrasOf(DeviceView? view, string source) =>
        view is { } v && DeviceTopics.Of(v.Record).Source == source ? DeviceJson.ParseExtras(v.Record.Attributes) : null;

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
