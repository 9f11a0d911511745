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
}

/// <summary>PUBLISH (§3.3): the payload is copied out of the pipe once and shared by every subscriber.</summary>
public readonly record struct PublishPacket(string Topic, byte[] Payload, QoS Qos, bool Retain, bool Dup, ushort PacketId);

/// <summary>One topic filter of a SUBSCRIBE (§3.8.3) with its requested QoS.</summary>
public readonly record struct TopicRequest(string Filter, QoS Qos);
