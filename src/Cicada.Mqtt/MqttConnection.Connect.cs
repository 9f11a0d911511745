using System.Buffers;
using Cicada.Core;
using Cicada.Core.Auth;
using Cicada.Core.Sessions;
using Cicada.Mqtt.Protocol;

namespace Cicada.Mqtt;

internal sealed partial class MqttConnection
{
    private const int MaxV31ClientIdLength = 23;

    private async ValueTask<string?> HandleConnectAsync(MqttFrame frame)
    {
        var connect = MqttDecoder.DecodeConnect(frame.Body.IsSingleSegment ? frame.Body.FirstSpan : frame.Body.ToArray());
        var isV31 = connect.ProtocolName == "MQIsdp";
        if (connect.ProtocolLevel != (isV31 ? MqttProtocolLevel.V31 : MqttProtocolLevel.V311))
        {
            // MQTT-3.1.2-2: unsupported level: CONNACK 0x01, then close.
            return Refuse(connect, ConnectReturnCode.UnacceptableProtocolVersion);
        }

        _level = connect.ProtocolLevel;
        var clientId = connect.ClientId;
        if (clientId.Length == 0)
        {
            if (isV31 || !connect.CleanSession)
            {
                // MQTT-3.1.3-8: an empty id needs CleanSession = 1; MQTT 3.1 requires 1..23 characters.
                return Refuse(connect, ConnectReturnCode.IdentifierRejected);
            }

            // MQTT-3.1.3-6: the server assigns a unique id.
            clientId = "cicada-" + Guid.NewGuid().ToString("N");
        }
        else if (isV31 && clientId.Length > MaxV31ClientIdLength)
        {
            // MQTT 3.1 §3.1: a client id longer than 23 characters is rejected with code 2.
            return Refuse(connect, ConnectReturnCode.IdentifierRejected);
        }

        var auth = await _edge.Authenticator.AuthenticateAsync(
            new AuthRequest(clientId, connect.Username, connect.Password is { } password ? new ReadOnlyMemory<byte>(password) : (ReadOnlyMemory<byte>?)null, "mqtt", _context.RemoteEndPoint), _context.ConnectionClosed);
        if (auth != AuthResult.Allowed)
        {
            return Refuse(connect, auth == AuthResult.BadCredentials
                ? ConnectReturnCode.BadUsernameOrPassword
                : ConnectReturnCode.NotAuthorized);
        }

        Will? will = null;
        if (connect.WillTopic is { } willTopic)
        {
            will = new Will(new Message(willTopic, connect.WillPayload, connect.WillQos, connect.WillRetain, originClientId: clientId));
        }

        _keepAliveSeconds = connect.KeepAliveSeconds;
        var result = _edge.Broker.Connect(clientId, connect.CleanSession, persistent: !connect.CleanSession, this, will, "mqtt",
            _context.RemoteEndPoint);
        _link = result.Link;

        // MQTT-3.2.2-1/2/3: Session Present (3.1.1 only; the byte is reserved in 3.1).
        var present = result.SessionPresent && !isV31;
        _responses.Add(Response.ConnAck(present, ConnectReturnCode.Accepted));
        MqttLog.Connected(_edge.Logger, clientId, _context.RemoteEndPoint, _level, connect.CleanSession, _keepAliveSeconds, result.SessionPresent);
        return null;
    }

    private string Refuse(ConnectPacket connect, ConnectReturnCode code)
    {
        // MQTT-3.2.2-4/5: a refusal has Session Present 0 and closes the connection.
        MqttLog.Refused(_edge.Logger, _context.RemoteEndPoint, connect.ClientId, code);
        _responses.Add(Response.ConnAck(false, code));
        return $"CONNECT refused ({code})";
    }
}
