namespace Cicada.Mqtt.Protocol;

/// <summary>
/// Bad input from a client: a malformed packet or a protocol violation. The connection is closed
/// (MQTT-4.8.0-1) with one log line naming <see cref="Rule"/>.
/// </summary>
public sealed class MqttProtocolException : Exception
{
    public MqttProtocolException(string rule, string message)
        : base(message) => Rule = rule;

    public MqttProtocolException()
        : this("MQTT-4.8.0-1", "Protocol violation")
    {
    }

    public MqttProtocolException(string message)
        : this("MQTT-4.8.0-1", message)
    {
    }

    public MqttProtocolException(string message, Exception innerException)
        : base(message, innerException) => Rule = "MQTT-4.8.0-1";

    /// <summary>The normative statement broken, e.g. <c>MQTT-3.3.1-4</c>.</summary>
    public string Rule { get; }

    /// <summary>The MQTT 5 reason code to close with (§4.13): 0x81 Malformed Packet unless set.</summary>
    public byte ReasonCode { get; init; } = 0x81;
}

internal static class ThrowHelper
{
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void Protocol(string rule, string message) => throw new MqttProtocolException(rule, message);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static T Protocol<T>(string rule, string message) => throw new MqttProtocolException(rule, message);

    /// <summary>A well-formed packet that breaks a rule: MQTT 5 reason 0x82 Protocol Error, or another code.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void ProtocolError(string rule, string message, byte reasonCode = 0x82) =>
        throw new MqttProtocolException(rule, message) { ReasonCode = reasonCode };

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static T ProtocolError<T>(string rule, string message, byte reasonCode = 0x82) =>
        throw new MqttProtocolException(rule, message) { ReasonCode = reasonCode };
}
