using Cicada.Core;

namespace Cicada.Mqtt.Protocol;

/// <summary>CONNECT (§3.1) as decoded; the connection validates it against the session rules.</summary>
public sealed class ConnectPacket
{
    public required string ProtocolName { get; init; }
    public required byte ProtocolLevel { get; init; }
    public bool CleanSession { get; init; }
    public ushort KeepAliveSeconds { get; init; }
    public required string ClientId { get; init; }
    public string? WillTopic { get; init; }
    public byte[]? WillPayload { get; init; }
    public QoS WillQos { get; init; }
    public bool WillRetain { get; init; }
    public string? Username { get; init; }
    public byte[]? Password { get; init; }

    /// <summary>MQTT 5 CONNECT properties (§3.1.2.11); null for 3.1/3.1.1 or when none were sent.</summary>
    public V5.MqttProperties? Properties { get; init; }

    /// <summary>MQTT 5 will properties (§3.1.3.2).</summary>
    public V5.MqttProperties? WillProperties { get; init; }
}

/// <summary>PUBLISH (§3.3): the payload is copied out of the pipe once and shared by every subscriber.</summary>
public readonly record struct PublishPacket(string Topic, byte[] Payload, QoS Qos, bool Retain, bool Dup, ushort PacketId,
    V5.MqttProperties? Properties = null);

/// <summary>One topic filter of a SUBSCRIBE (§3.8.3) with its requested QoS and MQTT 5 options (§3.8.3.1).</summary>
public readonly record struct TopicRequest(string Filter, QoS Qos, bool NoLocal = false, bool RetainAsPublished = false,
    byte RetainHandling = 0);

/// <summary>An acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP) with its MQTT 5 reason code (§3.4.2.1).</summary>
public readonly record struct AckPacket(ushort PacketId, byte ReasonCode);
