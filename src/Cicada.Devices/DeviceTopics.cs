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
/// which replace the defaults. A Home Assistant device groups its entities (field <c>entities</c>:
/// each with its own state and command topic, the command name being the entity's key); a Homie 4
/// device has node properties (field <c>properties</c>, keyed <c>{node}/{property}</c>) read from
/// <c>{root}/{node}/{property}</c> and set through <c>{root}/{node}/{property}/set</c>.
/// </summary>
public sealed record DeviceTopics(string Root, string? StateTopic, string? CommandTopic, string? AnnouncedAvailabilityTopic, string? Source)
{
    public const string EntitiesField = "entities";
    public const string PropertiesField = "properties";

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

    /// <summary>A Home Assistant device's entities by key (the command name), ordered by key.</summary>
    public IReadOnlyList<KeyValuePair<string, EntityTopics>> Entities { get; init; } = [];

    /// <summary>A Homie device's announced properties by <c>{node}/{property}</c>.</summary>
    public IReadOnlyDictionary<string, HomieProperty> Properties { get; init; } = new Dictionary<string, HomieProperty>();

    public bool IsHomie => Source == DeviceDiscovery.HomieSource;

    /// <summary>
    /// The filter of the device's state: a Homie device's property values (<c>{root}/+/+</c>, the
    /// <c>$</c> attributes excluded when read), its announced state topic (the first entity's for
    /// a grouped Home Assistant device; see <see cref="StateTopics"/>), else <c>{root}/state/#</c>.
    /// </summary>
    public string StateFilter => IsHomie ? Root + "/+/+"
        : StateTopic ?? Entities.Select(e => e.Value.StateTopic).FirstOrDefault(t => t is not null) ?? Root + "/state/#";

    /// <summary>Every topic (or filter) the state is read from, for access checks.</summary>
    public IReadOnlyList<string> StateTopics => Entities.Count == 0 || IsHomie ? [StateFilter]
        : Entities.Select(e => e.Value.StateTopic).OfType<string>().Distinct(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Where command <paramref name="name"/> goes; null when the device has no such command. A
    /// Homie property <c>{node}.{property}</c> that is <c>$settable</c> goes to
    /// <c>{root}/{node}/{property}/set</c> (Homie 4 §Property command topic; the dot because a
    /// command name is one topic level and Homie ids never contain one); a grouped Home Assistant
    /// device's entity key to that entity's <c>command_topic</c>; otherwise the announced command
    /// topic, else <c>{root}/commands/{name}</c>.
    /// </summary>
    public string? CommandFor(string name)
    {
        if (IsHomie)
        {
            var dot = name.IndexOf('.', StringComparison.Ordinal);
            var key = dot > 0 ? name[..dot] + "/" + name[(dot + 1)..] : null;
            return key is not null && Properties.TryGetValue(key, out var property) && property.Settable ? $"{Root}/{key}/set" : null;
        }

        if (Entities.Count > 0)
        {
            return Entities.FirstOrDefault(e => e.Key == name).Value?.CommandTopic;
        }

        return CommandTopic ?? $"{Root}/commands/{name}";
    }

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
        var entities = new List<KeyValuePair<string, EntityTopics>>();
        if (extras?[EntitiesField] is JsonObject announced)
        {
            foreach (var (key, node) in announced)
            {
                if (node is JsonObject entity)
                {
                    entities.Add(new(key, new EntityTopics(Text(entity, "component", name: false) ?? "",
                        Text(entity, StateTopicField, name: true), Text(entity, CommandTopicField, name: true))));
                }
            }

            entities.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        }

        var properties = new Dictionary<string, HomieProperty>(StringComparer.Ordinal);
        if (extras?[PropertiesField] is JsonObject props)
        {
            foreach (var (key, node) in props)
            {
                if (node is JsonObject property)
                {
                    var settable = property["settable"] is JsonValue v && v.GetValueKind() == JsonValueKind.True;
                    properties[key] = new HomieProperty(settable, Text(property, "datatype", name: false));
                }
            }
        }

        return new DeviceTopics(root, Text(extras, StateTopicField, name: true), Text(extras, CommandTopicField, name: true),
            Text(extras, AvailabilityTopicField, name: true), Text(extras, SourceField, name: false))
        {
            Entities = entities,
            Properties = properties,
        };
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

/// <summary>One Home Assistant entity of a device: its component and announced topics.</summary>
public sealed record EntityTopics(string Component, string? StateTopic, string? CommandTopic);

/// <summary>One Homie 4 property: whether it accepts <c>/set</c>, and its <c>$datatype</c>.</summary>
public sealed record HomieProperty(bool Settable, string? Datatype);
