using System.Text.Json;
using System.Text.Json.Nodes;
using Cicada.Core.Storage;
using Cicada.Core.Topics;

namespace Cicada.Devices;

/// <summary>
/// Where a device lives in the topic space. A registered device has a root (field <c>topic</c>,
/// default <c>devices/{identifier}</c>) with <c>{root}/state/#</c>, <c>{root}/commands/{name}</c>
/// and <c>{root}/availability</c> under it; a discovered one (Home Assistant, Homie) brings its
/// own announced topics (<c>state_topic</c>, <c>command_topic</c>, <c>availability_topic</c>),
/// which replace the defaults.
/// </summary>
public sealed record DeviceTopics(string Root, string? StateTopic, string? CommandTopic, string? AnnouncedAvailabilityTopic, string? Source)
{
    public const string TopicField = "topic";
    public const string StateTopicField = "state_topic";
    public const string CommandTopicField = "command_topic";
    public const string AvailabilityTopicField = "availability_topic";
    public const string SourceField = "source";

    public static string DefaultRoot(string identifier) => "devices/" + identifier;

    /// <summary>The availability topic: the announced one, else <c>{root}/availability</c> (which the broker keeps).</summary>
    public string AvailabilityTopic => AnnouncedAvailabilityTopic ?? Root + "/availability";

    /// <summary>True when the broker publishes the availability (the device did not announce a topic of its own).</summary>
    public bool BrokerOwnsAvailability => AnnouncedAvailabilityTopic is null;

    /// <summary>The filter of the device's state: its announced state topic, else <c>{root}/state/#</c>.</summary>
    public string StateFilter => StateTopic ?? Root + "/state/#";

    /// <summary>Where command <paramref name="name"/> goes: the announced command topic (one per entity), else <c>{root}/commands/{name}</c>.</summary>
    public string CommandFor(string name) => CommandTopic ?? $"{Root}/commands/{name}";

    public static DeviceTopics Of(DeviceRecord record)
    {
        JsonObject? extras = null;
        if (record.Attributes is { } text)
        {
            try
            {
                extras = JsonNode.Parse(text) as JsonObject;
            }
            catch (JsonException)
            {
                // Written by the registry itself; unreadable means no extras.
            }
        }

        var root = Text(extras, TopicField, name: true) ?? DefaultRoot(record.Identifier);
        return new DeviceTopics(root, Text(extras, StateTopicField, name: true), Text(extras, CommandTopicField, name: true),
            Text(extras, AvailabilityTopicField, name: true), Text(extras, SourceField, name: false));
    }

    /// <summary>Checks a topic field given by a client: a valid topic name without wildcards (MQTT-4.7.1-1).</summary>
    public static string? CheckTopic(JsonObject body, string field)
    {
        if (!body.TryGetPropertyValue(field, out var node) || node is null)
        {
            return null;
        }

        return node.GetValueKind() == JsonValueKind.String && TopicValidator.IsValidTopicName(node.GetValue<string>())
            ? null
            : $"must be a topic name without wildcards";
    }

    private static string? Text(JsonObject? extras, string field, bool name)
    {
        if (extras is null || !extras.TryGetPropertyValue(field, out var node) || node is null || node.GetValueKind() != JsonValueKind.String)
        {
            return null;
        }

        var value = node.GetValue<string>();
        return value.Length == 0 || (name && !TopicValidator.IsValidTopicName(value)) ? null : value;
    }
}
