using Cicada.Core.Topics;
using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Mqtt;

internal sealed partial class MqttConnection
{
    /// <summary>
    /// A packet the read loop owes the client. Responses are written in the order their requests
    /// arrived (MQTT-4.6.0-2..4), each only once what it acknowledges is durable.
    /// </summary>
    private readonly record struct Response(
        MqttPacketType Type,
        ushort PacketId,
        Task? Durable = null,
        byte[]? Codes = null,
        bool SessionPresent = false,
        ConnectReturnCode Code = ConnectReturnCode.Accepted,
        ReasonCode Reason = ReasonCode.Success,
        string? AssignedClientId = null,
        int? ServerKeepAlive = null,
        List<(string Filter, SubscriptionOptions Options)>? Retained = null,
        AuthReply? Auth = null)
    {
        public static Response Packet(MqttPacketType type, ushort packetId, Task? durable = null, ReasonCode reason = ReasonCode.Success) =>
            new(type, packetId, durable is { IsCompletedSuccessfully: true } ? null : durable, Reason: reason);

        public static Response ConnAck(bool sessionPresent, ConnectReturnCode code, ReasonCode reason,
            string? assignedClientId = null, int? serverKeepAlive = null, AuthReply? auth = null) =>
            new(MqttPacketType.ConnAck, 0, SessionPresent: sessionPresent, Code: code, Reason: reason,
                AssignedClientId: assignedClientId, ServerKeepAlive: serverKeepAlive, Auth: auth);

        /// <summary>AUTH (MQTT 5 §3.15): 0x18 Continue authentication, or 0x00 Success ending a re-authentication.</summary>
        public static Response AuthPacket(ReasonCode reason, AuthReply auth) => new(MqttPacketType.Auth, 0, Reason: reason, Auth: auth);

        /// <summary>A server DISCONNECT (MQTT 5 §3.14) written in order after the responses before it; the connection then ends.</summary>
        public static Response Disconnect(ReasonCode reason) => new(MqttPacketType.Disconnect, 0, Reason: reason);
    }

    /// <summary>The Authentication Method and Data a server AUTH or CONNACK carries (MQTT-4.12.0-5).</summary>
    private sealed record AuthReply(string Method, byte[]? Data);

    private async ValueTask WriteResponsesAsync()
    {
        if (_responses.Count == 0)
        {
            return;
        }

        // Group commit: the durable tasks of a whole read batch complete together; waiting for
        // them in order keeps acknowledgements in order.
        for (var i = 0; i < _responses.Count; i++)
        {
            if (_responses[i].Durable is not { } durable)
            {
                continue;
            }

            try
            {
                await durable;
            }
            catch (Exception ex) when (_v5 && _responses[i].Type is MqttPacketType.PubAck or MqttPacketType.PubRec)
            {
                // The store could not make the message durable (disk full, read-only folder, I/O
                // error): refuse it with a reason code (MQTT 5 §3.4.2.1 / §3.5.2.1, 0x80) rather than
                // acknowledge what a crash would lose. A v3 client has no reason codes: the exception
                // closes its connection without a PUBACK, so it resends the message on reconnect.
                var response = _responses[i];
                MqttLog.DurableWriteFailed(_edge.Logger, ex, ClientId, response.PacketId);
                if (response.Type == MqttPacketType.PubRec)
                {
                    // MQTT-4.3.3: a PUBREC with a reason code >= 0x80 ends the flow; the id is free again.
                    _link!.Session.RemoveReceivedId(response.PacketId);
                }

                _responses[i] = response with { Durable = null, Reason = ReasonCode.UnspecifiedError };
            }
        }

        await _writeLock.WaitAsync();
        try
        {
            foreach (var response in _responses)
            {
                Write(response);
            }

            await FlushCountedAsync();
        }
        finally
        {
            _writeLock.Release();
        }

        _unackedQos1 = 0;
        foreach (var response in _responses)
        {
            if (response.Retained is { } retained)
            {
                // Retained messages follow the SUBACK (MQTT-3.8.4-4 order, MQTT-3.3.1-6).
                foreach (var (filter, options) in retained)
                {
                    _edge.Broker.DeliverRetained(_link!, filter, options);
                }
            }
        }

        _responses.Clear();
    }

    private void Write(in Response response)
    {
        switch (response.Type)
        {
            case MqttPacketType.ConnAck:
                WriteConnAck(response);
                break;
            case MqttPacketType.SubAck:
                if (_v5)
                {
                    MqttV5Encoder.WriteSubAck(_output, MqttPacketType.SubAck, response.PacketId, response.Codes);
                }
                else
                {
                    MqttEncoder.WriteSubAck(_output, response.PacketId, response.Codes);
                }

                break;
            case MqttPacketType.UnsubAck when _v5:
                MqttV5Encoder.WriteSubAck(_output, MqttPacketType.UnsubAck, response.PacketId, response.Codes);
                break;
            case MqttPacketType.PingResp:
                MqttEncoder.WritePingResp(_output);
                break;
            case MqttPacketType.Auth:
                MqttV5Encoder.WriteAuth(_output, response.Reason, AuthProperties(response.Auth!));
                break;
            case MqttPacketType.Disconnect:
                MqttV5Encoder.WriteDisconnect(_output, response.Reason);
                break;
            default:
                if (_v5)
                {
                    MqttV5Encoder.WriteAck(_output, response.Type, response.PacketId, response.Reason);
                }
                else
                {
                    MqttEncoder.WriteAck(_output, response.Type, response.PacketId);
                }

                break;
        }
    }

    private PropertyCodec.Builder AuthProperties(AuthReply auth, PropertyCodec.Builder? props = null)
    {
        props ??= Props.Reset();
        props.String(PropertyId.AuthenticationMethod, auth.Method);
        if (auth.Data is { } data)
        {
            props.Binary(PropertyId.AuthenticationData, data);
        }

        return props;
    }

    private void WriteConnAck(in Response response)
    {
        var accepted = _v5 ? response.Reason == ReasonCode.Success : response.Code == ConnectReturnCode.Accepted;
        if (!_v5)
        {
            MqttEncoder.WriteConnAck(_output, response.SessionPresent, response.Code);
        }
        else
        {
            var props = Props.Reset();
            if (accepted)
            {
                // MQTT 5 §3.2.2.3: what this broker allows and enforces.
                var options = _edge.Options;
                props.UInt16(PropertyId.ReceiveMaximum, (ushort)Math.Clamp(options.ReceiveMaximum, 1, ushort.MaxValue))
                    .UInt32(PropertyId.MaximumPacketSize, (uint)options.MaxPacketSize)
                    .UInt16(PropertyId.TopicAliasMaximum, (ushort)Math.Clamp(options.TopicAliasMaximum, 0, ushort.MaxValue))
                    .Byte(PropertyId.RetainAvailable, 1)
                    .Byte(PropertyId.WildcardSubscriptionAvailable, 1)
                    .Byte(PropertyId.SubscriptionIdentifierAvailable, 1)
                    .Byte(PropertyId.SharedSubscriptionAvailable, 1);
                if (response.AssignedClientId is { } assigned)
                {
                    props.String(PropertyId.AssignedClientIdentifier, assigned);
                }

                if (response.ServerKeepAlive is { } keepAlive)
                {
                    props.UInt16(PropertyId.ServerKeepAlive, (ushort)keepAlive);
                }

                if (response.Auth is { } auth)
                {
                    // MQTT-4.12.0-5: a successful CONNACK repeats the method; the data is the method's final message.
                    AuthProperties(auth, props);
                }
            }

            MqttV5Encoder.WriteConnAck(_output, response.SessionPresent, response.Reason, props.Length == 0 ? null : props);
        }

        if (accepted)
        {
            // Nothing may precede CONNACK (MQTT-3.2.0-1): deliveries start only now.
            _connAckSent = true;
            ResendInflight();
        }
    }
}
