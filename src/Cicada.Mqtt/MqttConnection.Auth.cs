using System.Buffers;
using Cicada.Core.Auth;
using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Mqtt;

/// <summary>
/// MQTT 5 enhanced authentication (§4.12) and re-authentication (§4.12.1): the client names a
/// method in CONNECT, Core's <see cref="IAuthenticationMechanism"/> of that name runs the exchange,
/// and this file carries its messages in AUTH packets (Authentication Method and Data properties).
/// </summary>
internal sealed partial class MqttConnection
{
    /// <summary>The CONNECT waiting for its authentication exchange to finish; null otherwise.</summary>
    private PendingConnect? _pendingConnect;

    /// <summary>The method named in CONNECT; null when none was, and then the client may send no AUTH (MQTT-4.12.0-7).</summary>
    private IAuthenticationMechanism? _authMechanism;

    /// <summary>The exchange in progress (before CONNACK, or a re-authentication); null between them.</summary>
    private IAuthenticationExchange? _authExchange;

    private async ValueTask<string?> BeginConnectAuthenticationAsync(PendingConnect pending, string method, byte[]? data)
    {
        if (!_edge.Mechanisms.TryGet(method, out var mechanism))
        {
            // MQTT-4.12.0-1: a method the server does not support: CONNACK 0x8C, then close.
            return Refuse(pending.Connect, ConnectReturnCode.NotAuthorized, ReasonCode.BadAuthenticationMethod);
        }

        _authMechanism = mechanism;
        _pendingConnect = pending;
        _authExchange = mechanism.Begin(new AuthExchangeContext(pending.ClientId, "mqtt", _context.RemoteEndPoint));
        return await StepConnectAuthenticationAsync(data);
    }

    /// <summary>
    /// Before its CONNACK a client that named a method may send only AUTH and DISCONNECT
    /// (MQTT-3.1.2-30); its AUTH answers ours with 0x18 (MQTT-4.12.0-3) and the same method (MQTT-4.12.0-5).
    /// </summary>
    private ValueTask<string?> HandleAuthBeforeConnAckAsync(MqttFrame frame)
    {
        if (frame.Type == MqttPacketType.Disconnect)
        {
            _ = MqttDecoder.DecodeReasonAndProperties(frame.Body.ToArray(), PropertyContext.Disconnect);
            return ValueTask.FromResult<string?>("DISCONNECT during authentication");
        }

        if (frame.Type != MqttPacketType.Auth)
        {
            ThrowHelper.ProtocolError("MQTT-3.1.2-30", $"{frame.Type} before CONNACK while authenticating");
        }

        var auth = AuthPacket.Decode(frame.Body.ToArray());
        if (auth.Method != _authMechanism!.Name)
        {
            ThrowHelper.ProtocolError("MQTT-4.12.0-5", $"AUTH with method '{auth.Method}' after CONNECT named '{_authMechanism.Name}'");
        }

        if (auth.Reason != ReasonCode.ContinueAuthentication)
        {
            ThrowHelper.ProtocolError("MQTT-4.12.0-3", $"AUTH reason 0x{(byte)auth.Reason:X2} answering the server's AUTH (must be 0x18)");
        }

        return StepConnectAuthenticationAsync(auth.Data);
    }

    private async ValueTask<string?> StepConnectAuthenticationAsync(byte[]? data)
    {
        var pending = _pendingConnect!;
        var method = _authMechanism!.Name;
        var step = await _authExchange!.StepAsync(data ?? ReadOnlyMemory<byte>.Empty, _context.ConnectionClosed);
        if (step.Outcome == AuthStepOutcome.Continue)
        {
            // MQTT-4.12.0-2: more is needed: AUTH 0x18 with the method's data, and the method (MQTT-4.12.0-5).
            _responses.Add(Response.AuthPacket(ReasonCode.ContinueAuthentication, new AuthReply(method, step.ServerData)));
            return null;
        }

        _pendingConnect = null;
        _authExchange = null;
        if (step.Outcome == AuthStepOutcome.Failed)
        {
            // MQTT-4.12.0-4: the server may refuse at any step: CONNACK 0x86 / 0x87, then close.
            return RefuseAuthentication(pending.Connect, step.Failure);
        }

        var username = step.Username!;
        if ((pending.CertificateUser ?? pending.Connect.Username) is { } claimed && claimed != username)
        {
            // The identity is the one the method proved; a User Name (or certificate) naming another
            // user is refused rather than one of the two chosen silently.
            MqttLog.AuthenticatedAsAnother(_edge.Logger, pending.ClientId, method, username, claimed);
            return Refuse(pending.Connect, ConnectReturnCode.NotAuthorized, ReasonCode.NotAuthorized);
        }

        // MQTT-4.12.0-5: the successful CONNACK repeats the method and carries the final data.
        return Accept(pending, username, new AuthReply(method, step.ServerData));
    }

    /// <summary>
    /// AUTH after CONNACK: a re-authentication (MQTT-4.12.1-1: 0x19 with the CONNECT's method, then
    /// 0x18 answers), during which other packets keep flowing under the previous authentication.
    /// Success is AUTH 0x00 with the final data; failure is DISCONNECT 0x87 and close (MQTT-4.12.1-2).
    /// </summary>
    private async ValueTask<string?> HandleReauthenticationAsync(MqttFrame frame)
    {
        if (_authMechanism is not { } mechanism)
        {
            // MQTT-4.12.0-7: a client that named no method in CONNECT must send no AUTH.
            return ThrowHelper.ProtocolError<string?>("MQTT-4.12.0-7", "AUTH without an Authentication Method in CONNECT");
        }

        var auth = AuthPacket.Decode(frame.Body.ToArray());
        if (auth.Method != mechanism.Name)
        {
            ThrowHelper.ProtocolError("MQTT-4.12.1-1", $"Re-authentication with method '{auth.Method}', not the CONNECT's '{mechanism.Name}'");
        }

        switch (auth.Reason)
        {
            case ReasonCode.ReAuthenticate when _authExchange is null:
                _authExchange = mechanism.Begin(new AuthExchangeContext(ClientId, "mqtt", _context.RemoteEndPoint));
                break;
            case ReasonCode.ContinueAuthentication when _authExchange is not null:
                break;
            case ReasonCode.ReAuthenticate:
                ThrowHelper.ProtocolError("MQTT 5 §4.12.1", "AUTH 0x19 while a re-authentication is in progress");
                break;
            case ReasonCode.ContinueAuthentication:
                ThrowHelper.ProtocolError("MQTT-4.12.0-3", "AUTH 0x18 that answers no AUTH from the server");
                break;
            default:
                // §3.15.2.1: 0x00 Success is sent by the server only.
                ThrowHelper.ProtocolError("MQTT 5 §3.15.2.1", "AUTH 0x00 from a client");
                break;
        }

        var step = await _authExchange!.StepAsync(auth.Data ?? ReadOnlyMemory<byte>.Empty, _context.ConnectionClosed);
        if (step.Outcome == AuthStepOutcome.Continue)
        {
            _responses.Add(Response.AuthPacket(ReasonCode.ContinueAuthentication, new AuthReply(mechanism.Name, step.ServerData)));
            return null;
        }

        _authExchange = null;
        var link = _link!;
        if (step.Outcome == AuthStepOutcome.Succeeded && step.Username != link.Username)
        {
            // The ACL and $SYS know this connection by its user: re-authenticating cannot change who it is.
            MqttLog.AuthenticatedAsAnother(_edge.Logger, link.ClientId, mechanism.Name, step.Username!, link.Username ?? "(none)");
        }
        else if (step.Outcome == AuthStepOutcome.Succeeded)
        {
            MqttLog.Reauthenticated(_edge.Logger, link.ClientId, mechanism.Name, link.Username!);
            _responses.Add(Response.AuthPacket(ReasonCode.Success, new AuthReply(mechanism.Name, step.ServerData)));
            return null;
        }

        // MQTT-4.12.1-2: a failed re-authentication: DISCONNECT 0x87 Not authorized, then close.
        _responses.Add(Response.Disconnect(ReasonCode.NotAuthorized));
        return $"re-authentication with {mechanism.Name} failed (MQTT-4.12.1-2)";
    }
}
