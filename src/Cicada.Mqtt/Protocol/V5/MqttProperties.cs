namespace Cicada.Mqtt.Protocol.V5;

/// <summary>Which packet a property block belongs to (§2.2.2.2: each property is valid in some only).</summary>
[Flags]
public enum PropertyContext
{
    None = 0,
    Connect = 1 << 0,
    ConnAck = 1 << 1,
    Publish = 1 << 2,
    Will = 1 << 3,
    PubAck = 1 << 4,
    Subscribe = 1 << 5,
    SubAck = 1 << 6,
    Unsubscribe = 1 << 7,
    UnsubAck = 1 << 8,
    Disconnect = 1 << 9,
    Auth = 1 << 10,
    All = (1 << 11) - 1,
}

/// <summary>A decoded MQTT 5 property block (§2.2.2). Only what was present is set.</summary>
public sealed class MqttProperties
{
    /// <summary>
    /// The message metadata MQTT 5 forwards untouched (§3.3.2.3), in Core's protocol-neutral form;
    /// null when the block carries none of it. One mapping for the MQTT edge and the bridge.
    /// </summary>
    public static Core.MessageProperties? ToMessageProperties(MqttProperties? p) =>
        p is null || (p.PayloadFormatIndicator is null && p.ContentType is null && p.ResponseTopic is null
            && p.CorrelationData is null && p.UserProperties is null)
            ? null
            : new Core.MessageProperties
            {
                PayloadIsUtf8 = p.PayloadFormatIndicator is { } pfi ? pfi == 1 : null,
                ContentType = p.ContentType,
                ResponseTopic = p.ResponseTopic,
                CorrelationData = p.CorrelationData,
                UserProperties = p.UserProperties,
            };

    public byte? PayloadFormatIndicator { get; set; }
    public uint? MessageExpiryInterval { get; set; }
    public string? ContentType { get; set; }
    public string? ResponseTopic { get; set; }
    public byte[]? CorrelationData { get; set; }
    public List<int>? SubscriptionIdentifiers { get; set; }
    public uint? SessionExpiryInterval { get; set; }
    public string? AssignedClientIdentifier { get; set; }
    public ushort? ServerKeepAlive { get; set; }
    public string? AuthenticationMethod { get; set; }
    public byte[]? AuthenticationData { get; set; }
    public byte? RequestProblemInformation { get; set; }
    public uint? WillDelayInterval { get; set; }
    public byte? RequestResponseInformation { get; set; }
    public string? ResponseInformation { get; set; }
    public string? ServerReference { get; set; }
    public string? ReasonString { get; set; }
    public ushort? ReceiveMaximum { get; set; }
    public ushort? TopicAliasMaximum { get; set; }
    public ushort? TopicAlias { get; set; }
    public byte? MaximumQos { get; set; }
    public byte? RetainAvailable { get; set; }
    public List<KeyValuePair<string, string>>? UserProperties { get; set; }
    public uint? MaximumPacketSize { get; set; }
    public byte? WildcardSubscriptionAvailable { get; set; }
    public byte? SubscriptionIdentifierAvailable { get; set; }
    public byte? SharedSubscriptionAvailable { get; set; }

    /// <summary>The packets each property may appear in (§2.2.2.2 table).</summary>
    public static PropertyContext AllowedIn(PropertyId id) => id switch
    {
        PropertyId.PayloadFormatIndicator or PropertyId.MessageExpiryInterval or PropertyId.ContentType
            or PropertyId.ResponseTopic or PropertyId.CorrelationData => PropertyContext.Publish | PropertyContext.Will,
        PropertyId.SubscriptionIdentifier => PropertyContext.Publish | PropertyContext.Subscribe,
        PropertyId.SessionExpiryInterval => PropertyContext.Connect | PropertyContext.ConnAck | PropertyContext.Disconnect,
        PropertyId.AssignedClientIdentifier or PropertyId.ServerKeepAlive or PropertyId.ResponseInformation
            or PropertyId.MaximumQos or PropertyId.RetainAvailable or PropertyId.WildcardSubscriptionAvailable
            or PropertyId.SubscriptionIdentifierAvailable or PropertyId.SharedSubscriptionAvailable => PropertyContext.ConnAck,
        PropertyId.AuthenticationMethod or PropertyId.AuthenticationData =>
            PropertyContext.Connect | PropertyContext.ConnAck | PropertyContext.Auth,
        PropertyId.RequestProblemInformation or PropertyId.RequestResponseInformation => PropertyContext.Connect,
        PropertyId.WillDelayInterval => PropertyContext.Will,
        PropertyId.ServerReference => PropertyContext.ConnAck | PropertyContext.Disconnect,
        PropertyId.ReasonString => PropertyContext.All & ~(PropertyContext.Connect | PropertyContext.Publish | PropertyContext.Will
            | PropertyContext.Subscribe | PropertyContext.Unsubscribe),
        PropertyId.ReceiveMaximum or PropertyId.TopicAliasMaximum or PropertyId.MaximumPacketSize =>
            PropertyContext.Connect | PropertyContext.ConnAck,
        PropertyId.TopicAlias => PropertyContext.Publish,
        PropertyId.UserProperty => PropertyContext.All,
        _ => PropertyContext.None,
    };
}
