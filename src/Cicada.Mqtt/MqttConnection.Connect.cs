using System.Buffers;
using System.Text.Unicode;
using Cicada.Core;
using Cicada.Core.Auth;
using Cicada.Core.Sessions;
using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Mqtt;

internal sealed partial class MqttConnection
{
    private const int MaxV31ClientIdLength = 23;

    private async ValueTask<string?> HandleConnectAsync(MqttFrame frame)
    {
        var body = frame.Body.IsSingleSegment ? frame.Body.FirstSpan.ToArray() : frame.Body.ToArray();
        ConnectPacket connect;
        try
        {
            connect = MqttDecoder.DecodeConnect(body);
        }
        catch (MqttProtocolException ex) when (PeekLevel(body) == MqttProtocolLevel.V5)
        {
            // MQTT 5 §4.13.1: a bad CONNECT from a v5 client is answered with CONNACK and its reason.
            _v5 = true;
            _responses.Add(Response.ConnAck(false, ConnectReturnCode.Accepted, (ReasonCode)ex.ReasonCode));
            throw;
        }

        var isV31 = connect.ProtocolName == "MQIsdp";
        _level = connect.ProtocolLevel;
        _v5 = _level == MqttProtocolLevel.V5;
        if (!_v5 && _level != (isV31 ? MqttProtocolLevel.V31 : MqttProtocolLevel.V311))
        {
            // MQTT-3.1.2-2: unsupported level: CONNACK 0x01, then close.
            return Refuse(connect, ConnectReturnCode.UnacceptableProtocolVersion, ReasonCode.UnsupportedProtocolVersion);
        }

        if (_context.Features.Get<ConnectionLimitExceeded>() is not null)
        {
            // Limits:MaxConnections / MaxConnectionsPerIp (logged by the limiter): MQTT 5 0x97
            // Quota exceeded; 3.1.1 has only 0x03 Server unavailable (MQTT-3.2.2.3).
            return Refuse(connect, ConnectReturnCode.ServerUnavailable, ReasonCode.QuotaExceeded);
        }

        var props = connect.Properties;
        if (props is { AuthenticationData: not null, AuthenticationMethod: null })
        {
            // MQTT 5 §3.1.2.11.10: Authentication Data without an Authentication Method is a Protocol Error.
            return Refuse(connect, ConnectReturnCode.NotAuthorized, ReasonCode.ProtocolError);
        }

        var clientId = connect.ClientId;
        string? assignedId = null;
        if (clientId.Length == 0)
        {
            if (isV31 || (!_v5 && !connect.CleanSession))
            {
                // MQTT-3.1.3-8: an empty id needs CleanSession = 1; MQTT 3.1 requires 1..23 characters.
                return Refuse(connect, ConnectReturnCode.IdentifierRejected, ReasonCode.ClientIdentifierNotValid);
            }

            // MQTT-3.1.3-6 / MQTT 5 §3.1.3.1: the server assigns a unique id (and tells a v5 client).
            clientId = assignedId = "cicada-" + Guid.NewGuid().ToString("N");
        }
        else if (isV31 && clientId.Length > MaxV31ClientIdLength)
        {
            // MQTT 3.1 §3.1: a client id longer than 23 characters is rejected with code 2.
            return Refuse(connect, ConnectReturnCode.IdentifierRejected, ReasonCode.ClientIdentifierNotValid);
        }

        else if (InternalClientIds.IsReserved(clientId))
        {
            // The broker's own sessions (bridges, AMQP queues, event streams…) are not MQTT
            // clients' to take over (MQTT-3.1.3-9: the server may reject an id): 0x02 / v5 0x85.
            return Refuse(connect, ConnectReturnCode.IdentifierRejected, ReasonCode.ClientIdentifierNotValid);
        }

        Will? will = null;
        if (connect.WillTopic is { } willTopic)
        {
            var willProps = connect.WillProperties;
            if (willProps?.PayloadFormatIndicator == 1 && !Utf8.IsValid(connect.WillPayload))
            {
                // MQTT 5 §3.1.3.2.3: a will declared UTF-8 must be.
                return Refuse(connect, ConnectReturnCode.NotAuthorized, ReasonCode.PayloadFormatInvalid);
            }

            will = new Will(
                new Message(willTopic, connect.WillPayload, connect.WillQos, connect.WillRetain, MqttProperties.ToMessageProperties(willProps), clientId),
                willProps?.WillDelayInterval ?? 0,
                willProps?.MessageExpiryInterval);
        }

        // A validated client certificate whose CN is the username is the credential itself
        // (Tls:UseCertificateCnAsUsername, as mosquitto's use_identity_as_username): the CONNECT
        // username and password are not consulted.
        var certificateUser = _context.Features.Get<ClientCertificateIdentity>()?.Username;
        var pending = new PendingConnect(connect, clientId, assignedId, will, certificateUser, isV31);
        if (props?.AuthenticationMethod is { } method)
        {
            // MQTT 5 §4.12: the named method authenticates, in as many AUTH round trips as it needs.
            return await BeginConnectAuthenticationAsync(pending, method, props.AuthenticationData);
        }

        var auth = certificateUser is not null
            ? AuthResult.Allowed
            : await _edge.Authenticator.AuthenticateAsync(
                new AuthRequest(clientId, connect.Username,
                    connect.Password is { } password ? new ReadOnlyMemory<byte>(password) : (ReadOnlyMemory<byte>?)null,
                    "mqtt", _context.RemoteEndPoint),
                _context.ConnectionClosed);
        if (auth != AuthResult.Allowed)
        {
            return RefuseAuthentication(connect, auth);
        }

        return Accept(pending, certificateUser ?? connect.Username, authReply: null);
    }

    /// <summary>A CONNECT that passed validation, waiting for (or done with) authentication.</summary>
    private sealed record PendingConnect(ConnectPacket Connect, string ClientId, string? AssignedId, Will? Will, string? CertificateUser, bool IsV31);

    private string RefuseAuthentication(ConnectPacket connect, AuthResult auth) =>
        auth == AuthResult.BadCredentials
            ? Refuse(connect, ConnectReturnCode.BadUsernameOrPassword, ReasonCode.BadUserNameOrPassword)
            : Refuse(connect, ConnectReturnCode.NotAuthorized, ReasonCode.NotAuthorized);

    /// <summary>The client is authenticated as <paramref name="username"/>: the session starts and CONNACK goes out.</summary>
    private string? Accept(PendingConnect pending, string? username, AuthReply? authReply)
    {
        var (connect, clientId, assignedId, will, _, isV31) = pending;
        if (will is not null && !_edge.Authorizer.CanPublish(new ClientIdentity(username, clientId, "mqtt"), will.Message.Topic))
        {
            // The will is a publish made on the client's behalf later: a topic it may not write
            // refuses the CONNECT now (as mosquitto 2 does), or the will would bypass the ACL.
            return Refuse(connect, ConnectReturnCode.NotAuthorized, ReasonCode.NotAuthorized);
        }

        var props = connect.Properties;
        _keepAliveSeconds = connect.KeepAliveSeconds;
        int? serverKeepAlive = null;
        var maxKeepAlive = _edge.Options.MaxKeepAliveSeconds;
        if (_v5 && maxKeepAlive > 0 && (_keepAliveSeconds == 0 || _keepAliveSeconds > maxKeepAlive))
        {
            // MQTT 5 §3.2.2.3.14: the server's keep alive replaces the client's.
            _keepAliveSeconds = maxKeepAlive;
            serverKeepAlive = maxKeepAlive;
        }

        uint expiry;
        if (_v5)
        {
            expiry = props?.SessionExpiryInterval ?? 0;
            _connectExpiry = expiry;
            _clientReceiveMaximum = props?.ReceiveMaximum ?? ushort.MaxValue;
            _clientMaxPacketSize = props?.MaximumPacketSize ?? uint.MaxValue;
            // Sending aliases is optional for a server (§3.3.2.3.4); common clients (libmosquitto 2.0,
            // MQTTnet 5, paho 1.6) cannot resolve them, so they are used only when configured.
            _clientTopicAliasMaximum = _edge.Options.OutboundTopicAliases ? props?.TopicAliasMaximum ?? 0 : (ushort)0;
        }
        else
        {
            expiry = connect.CleanSession ? 0 : uint.MaxValue;
        }

        var result = _edge.Broker.Connect(clientId, connect.CleanSession, expiry, this, will, "mqtt", _context.RemoteEndPoint);
        _link = result.Link;
        _link.Username = username;

        // MQTT-3.2.2-1/2/3: Session Present (the byte is reserved in 3.1).
        var present = result.SessionPresent && !isV31;
        _responses.Add(Response.ConnAck(present, ConnectReturnCode.Accepted, ReasonCode.Success, assignedId, serverKeepAlive, authReply));
        MqttLog.Connected(_edge.Logger, clientId, _context.RemoteEndPoint, _level, connect.CleanSession, _keepAliveSeconds, result.SessionPresent);
        return null;
    }

    /// <summary>The protocol level byte of a CONNECT body, or 0 when it cannot be found.</summary>
    private static byte PeekLevel(ReadOnlySpan<byte> body)
    {
        if (body.Length < 2)
        {
            return 0;
        }

        var nameLength = body[0] << 8 | body[1];
        return body.Length > 2 + nameLength ? body[2 + nameLength] : (byte)0;
    }

    private string Refuse(ConnectPacket connect, ConnectReturnCode code, ReasonCode reason)
    {
        // MQTT-3.2.2-4/5: a refusal has Session Present 0 and closes the connection.
        MqttLog.Refused(_edge.Logger, _context.RemoteEndPoint, connect.ClientId, _v5 ? $"0x{(byte)reason:X2} {reason}" : code.ToString());
        _responses.Add(Response.ConnAck(false, code, reason));
        return _v5 ? $"CONNECT refused ({reason})" : $"CONNECT refused ({code})";
    }
}
