namespace Cicada.Mqtt.Protocol;

/// <summary>Control packet types (MQTT 3.1.1 §2.2.1).</summary>
public enum MqttPacketType : byte
{
    Reserved = 0,
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Auth = 15,
}

/// <summary>Protocol levels in CONNECT (MQTT-3.1.2-2).</summary>
public static class MqttProtocolLevel
{
    /// <summary>MQTT 3.1 (protocol name "MQIsdp").</summary>
    public const byte V31 = 3;

    /// <summary>MQTT 3.1.1 (protocol name "MQTT").</summary>
    public const byte V311 = 4;

    /// <summary>MQTT 5.0.</summary>
    public const byte V5 = 5;
}

/// <summary>CONNACK return codes of MQTT 3.1 / 3.1.1 (§3.2.2.3).</summary>
public enum ConnectReturnCode : byte
{
    Accepted = 0,
    UnacceptableProtocolVersion = 1,
    IdentifierRejected = 2,
    ServerUnavailable = 3,
    BadUsernameOrPassword = 4,
    NotAuthorized = 5,
}
