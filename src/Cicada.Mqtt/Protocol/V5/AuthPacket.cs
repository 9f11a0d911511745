namespace Cicada.Mqtt.Protocol.V5;

/// <summary>AUTH (MQTT 5 §3.15) as a client sends it: reason code, Authentication Method and Data.</summary>
public readonly record struct AuthPacket(ReasonCode Reason, string Method, byte[]? Data)
{
    /// <summary>
    /// Decodes an AUTH body. A Remaining Length of 0 means reason 0x00 with no properties
    /// (§3.15.2.1), which then lacks the Authentication Method: a Protocol Error like any AUTH
    /// without one (§3.15.2.2.2). Only the Authenticate Reason Codes are valid (MQTT-3.15.2-1).
    /// </summary>
    public static AuthPacket Decode(ReadOnlySpan<byte> body)
    {
        var (reason, props) = MqttDecoder.DecodeReasonAndProperties(body, PropertyContext.Auth);
        if (reason is not ((byte)ReasonCode.Success or (byte)ReasonCode.ContinueAuthentication or (byte)ReasonCode.ReAuthenticate))
        {
            ThrowHelper.ProtocolError("MQTT-3.15.2-1", $"AUTH with reason 0x{reason:X2}, not an Authenticate Reason Code");
        }

        if (props?.AuthenticationMethod is not { } method)
        {
            return ThrowHelper.ProtocolError<AuthPacket>("MQTT 5 §3.15.2.2.2", "AUTH without an Authentication Method");
        }

        return new AuthPacket((ReasonCode)reason, method, props.AuthenticationData);
    }
}
