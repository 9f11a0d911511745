using Cicada.Core;
using Cicada.Core.Sessions;
using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Bridge;

/// <summary>Remote → local: the remote's PUBLISHes go into Core; acknowledgements of both directions.</summary>
public sealed partial class Bridge
{
    /// <summary>An acknowledgement to send once <see cref="Durable"/> completes (Core holds the message).</summary>
    private readonly record struct PendingAck(Task Durable, MqttPacketType Type, ushort Id, ReasonCode Reason);

    private ushort _subscribeId;
    private (string Filter, QoS Qos)[] _subscribeFilters = [];

    /// <summary>One SUBSCRIBE with every <c>in</c> pattern's remote filter; ready at its SUBACK.</summary>
    private async Task SubscribeRemoteAsync(RemoteConnection remote, ClientLink link, bool sessionPresent, CancellationToken token)
    {
        var filters = _settings.Inbound
            .GroupBy(t => t.RemoteFilter, StringComparer.Ordinal)
            .Select(g => (Filter: g.Key, Qos: (QoS)Math.Min(g.Max(t => (byte)t.Qos), (byte)_remoteMaxQos)))
            .ToArray();
        if (filters.Length == 0)
        {
            await BecomeReadyAsync(remote, link, sessionPresent, token);
            return;
        }

        // An id no in-flight delivery holds (MQTT-2.3.1-2); deliveries wait for the SUBACK.
        var used = link.Session.InflightSnapshot().Select(i => i.Id).ToHashSet();
        var id = 1;
        while (used.Contains(id))
        {
            id++;
        }

        _subscribeFilters = filters;
        _subscribeId = (ushort)id;
        await remote.SendAsync(static (w, s) => MqttClientCodec.WriteSubscribe(w, s.Id, s.Filters, s.V5),
            (Id: (ushort)id, Filters: filters, _settings.V5), token);
    }

    /// <summary>Reads and handles the remote's packets until the connection ends; returns why it ended.</summary>
    private async Task<string> ReadLoopAsync(RemoteConnection remote, ClientLink link, bool sessionPresent, CancellationToken token)
    {
        var acks = new List<PendingAck>();
        var input = remote.Input;
        while (true)
        {
            var result = await input.ReadAsync(token);
            var buffer = result.Buffer;
            var subscribed = false;
            string? end = null;
            try
            {
                while (end is null)
                {
                    var status = MqttFrameReader.TryRead(ref buffer, _maxPacketSize, out var frame, out var size);
                    if (status == FrameStatus.NeedMoreData)
                    {
                        break;
                    }

                    if (status != FrameStatus.Done)
                    {
                        return status == FrameStatus.TooLarge
                            ? $"the remote sent a {size}-byte packet, more than Mqtt:MaxPacketSize ({_maxPacketSize})"
                            : "the remote sent a malformed remaining length (MQTT-2.2.3)";
                    }

                    remote.MarkReceived();
                    end = Handle(frame, link, acks, ref subscribed);
                }
            }
            finally
            {
                input.AdvanceTo(buffer.Start, buffer.End);
            }

            // Acknowledged only once Core has each message (durable for persistent subscribers), in
            // order; a batch read at once is committed together.
            if (acks.Count > 0)
            {
                foreach (var ack in acks)
                {
                    await ack.Durable;
                }

                await remote.SendAsync(static (w, s) =>
                {
                    foreach (var ack in s.Acks)
                    {
                        s.Bridge.WriteAck(w, ack.Type, ack.Id, ack.Reason);
                    }
                }, (Bridge: this, Acks: acks), token);
                acks.Clear();
            }

            if (end is not null)
            {
                return end;
            }

            if (subscribed)
            {
                await BecomeReadyAsync(remote, link, sessionPresent, token);
            }

            if (result.IsCompleted)
            {
                return "the remote closed the connection";
            }
        }
    }

    /// <summary>One packet from the remote; a non-null result ends the connection with that reason.</summary>
    private string? Handle(MqttFrame frame, ClientLink link, List<PendingAck> acks, ref bool subscribed)
    {
        MqttDecoder.CheckFlags(frame);
        var body = Contiguous(frame);
        var session = link.Session;
        switch (frame.Type)
        {
            case MqttPacketType.Publish:
                HandlePublish(MqttDecoder.DecodePublish(frame.Flags, body, _settings.V5), session, acks);
                return null;
            case MqttPacketType.PubAck:
            case MqttPacketType.PubComp:
                if (session.Complete(DecodeAck(body).PacketId))
                {
                    OnDeliveriesPending(); // the window may admit more
                }

                return null;
            case MqttPacketType.PubRec:
                var rec = DecodeAck(body);
                if (rec.ReasonCode >= 0x80)
                {
                    // MQTT 5 §4.3.3: a PUBREC with an error ends the flow.
                    if (session.Complete(rec.PacketId))
                    {
                        OnDeliveriesPending();
                    }
                }
                else if (session.Release(rec.PacketId, out var released))
                {
                    // PUBREL once Released is stored: after PUBCOMP the remote forgets the id (MQTT-4.3.3).
                    acks.Add(new PendingAck(released, MqttPacketType.PubRel, rec.PacketId, ReasonCode.Success));
                }
                else
                {
                    acks.Add(new PendingAck(Task.CompletedTask, MqttPacketType.PubRel, rec.PacketId, ReasonCode.PacketIdentifierNotFound));
                }

                return null;
            case MqttPacketType.PubRel:
                var rel = DecodeAck(body);
                var known = session.RemoveReceivedId(rel.PacketId);
                acks.Add(new PendingAck(Task.CompletedTask, MqttPacketType.PubComp, rel.PacketId,
                    known ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound));
                return null;
            case MqttPacketType.SubAck:
                var subAck = MqttClientCodec.DecodeSubAck(body, _settings.V5);
                if (subAck.PacketId == _subscribeId && _subscribeId != 0)
                {
                    for (var i = 0; i < subAck.Codes.Length && i < _subscribeFilters.Length; i++)
                    {
                        if (subAck.Codes[i] >= 0x80)
                        {
                            BridgeLog.SubscriptionRefused(_logger, _settings.Name, _settings.Remote, _subscribeFilters[i].Filter, subAck.Codes[i]);
                        }
                    }

                    _subscribeId = 0;
                    subscribed = true;
                }

                return null;
            case MqttPacketType.PingResp:
                return null;
            case MqttPacketType.Disconnect when _settings.V5:
                // MQTT 5 §3.14: the server says why before it closes.
                var (reason, props) = MqttDecoder.DecodeReasonAndProperties(body, PropertyContext.Disconnect);
                return $"the remote sent DISCONNECT 0x{reason:X2} {(ReasonCode)reason}{(props?.ReasonString is { } text ? ": " + text : "")}";
            default:
                throw new MqttProtocolException("MQTT-4.8.0-1", $"unexpected {frame.Type} from the remote");
        }
    }

    private AckPacket DecodeAck(ReadOnlySpan<byte> body) =>
        _settings.V5 ? MqttDecoder.DecodeAckV5(body) : new AckPacket(MqttDecoder.DecodePacketId(body), 0);

    /// <summary>
    /// A message from the remote: renamed to its local topic and published into Core with the
    /// bridge's session as its origin, so the bridge's own <c>out</c> subscriptions (No Local)
    /// never send it back. QoS 1 is acknowledged, QoS 2 received, only once Core has it.
    /// </summary>
    private void HandlePublish(PublishPacket publish, Session session, List<PendingAck> acks)
    {
        if (_settings.V5 && (publish.Topic.Length == 0 || publish.Properties?.TopicAlias is not null))
        {
            // MQTT-3.3.2-8 / §3.2.2.3.8: the bridge announces no Topic Alias Maximum, so none may be used.
            throw new MqttProtocolException("MQTT-3.3.2-9", "topic alias from the remote, which was allowed none");
        }

        if (publish.Qos == QoS.ExactlyOnce && session.HasReceivedId(publish.PacketId))
        {
            // A re-sent QoS 2 PUBLISH (MQTT-4.3.3-2): already handled, only PUBREC again.
            acks.Add(new PendingAck(Task.CompletedTask, MqttPacketType.PubRec, publish.PacketId, ReasonCode.Success));
            return;
        }

        string? localTopic = null;
        foreach (var topic in _settings.Topics)
        {
            if (topic.IsIn && topic.TryToLocal(publish.Topic, out var mapped))
            {
                localTopic = mapped;
                break;
            }
        }

        Message? message = null;
        if (localTopic is null)
        {
            // A subscription left from an older configuration in the remote's persistent session.
            BridgeLog.Skipped(_logger, _settings.Name, publish.Topic, "no in pattern carries it");
        }
        else if (_echo is not null && _echo.TryConsume(publish.Topic, publish.Payload))
        {
            BridgeLog.Skipped(_logger, _settings.Name, publish.Topic, "the remote echoed a message the bridge sent (loop prevention)");
        }
        else
        {
            var props = publish.Properties;
            DateTimeOffset? expiresAt = props?.MessageExpiryInterval is { } seconds ? _broker.Time.GetUtcNow().AddSeconds(seconds) : null;
            message = new Message(localTopic, publish.Payload, publish.Qos, publish.Retain, MqttProperties.ToMessageProperties(props),
                _settings.CoreClientId, expiresAt);
            _metrics.MessagesIn.Add(1, _tag);
        }

        switch (publish.Qos)
        {
            case QoS.AtMostOnce:
                if (message is not null)
                {
                    _broker.PublishAsync(message).Forget();
                }

                break;
            case QoS.AtLeastOnce:
                // MQTT-4.3.2-2 with the remote as sender: PUBACK once the message is Core's.
                acks.Add(new PendingAck(message is null ? Task.CompletedTask : _broker.PublishAsync(message),
                    MqttPacketType.PubAck, publish.PacketId, ReasonCode.Success));
                break;
            default:
                // MQTT-4.3.3-2 method B, as the MQTT edge: routed on the first PUBLISH, the id kept
                // (stored with the message) until PUBREL, a re-sent PUBLISH answered without routing.
                Task durable;
                if (message is null)
                {
                    session.TryAddReceivedId(publish.PacketId, out durable);
                }
                else
                {
                    durable = session.TryAddReceivedId(publish.PacketId)
                        ? _broker.PublishExactlyOnceAsync(message, session, publish.PacketId)
                        : Task.CompletedTask;
                }

                acks.Add(new PendingAck(durable, MqttPacketType.PubRec, publish.PacketId, ReasonCode.Success));
                break;
        }
    }
}
