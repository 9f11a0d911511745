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
        List<(string Filter, SubscriptionOptions Options)>? Retained = null)
    {
        public static Response Packet(MqttPacketType type, ushort packetId, Task? durable = null, ReasonCode reason = ReasonCode.Success) =>
            new(type, packetId, durable is { IsCompletedSuccessfully: true } ? null : durable, Reason: reason);

        public static Response ConnAck(bool sessionPresent, ConnectReturnCode code, ReasonCode reason,
            string? assignedClientId = null, int? serverKeepAlive = null) =>
            new(MqttPacketType.ConnAck, 0, SessionPresent: sessionPresent, Code: code, Reason: reason,
                AssignedClientId: assignedClientId, ServerKeepAlive: serverKeepAlive);
    }

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

            await _output.FlushAsync();
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
