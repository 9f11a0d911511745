using System.Text.Unicode;
using Cicada.Core;
using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Mqtt;

internal sealed partial class MqttConnection
{
    private readonly Core.Limits.TokenBucket? _publishBucket;
    private int _unackedQos1;

    /// <summary>Set by a QoS 0 publish that found a subscriber's queue backed up; the read loop awaits it.</summary>
    private Task? _publishWait;

    private void HandlePublish(PublishPacket publish)
    {
        var link = _link!;

        // The bucket is this connection's own (read loop only): no lock on the publish path.
        if (_publishBucket is not null && !_edge.Limiter!.AllowsPublish(_publishBucket, "mqtt", link.ClientId, _context.RemoteEndPoint))
        {
            throw new PublishRateExceededException();
        }
        Message message;
        if (_v5)
        {
            if (ToV5Message(publish, link.ClientId) is not { } v5Message)
            {
                return;
            }

            message = v5Message;
        }
        else
        {
            message = new Message(publish.Topic, publish.Payload, publish.Qos, publish.Retain, originClientId: link.ClientId);
        }

        if (!_edge.Authorizer.CanPublish(link.Identity, message.Topic))
        {
            DenyPublish(publish, ReasonCode.NotAuthorized);
            return;
        }

        if (_edge.Limiter is { } limiter && !limiter.AllowsTopic("mqtt", link.ClientId, message.Topic))
        {
            // Limits:MaxTopicLevels/MaxTopicLength: refused like a denied publish, with 0x97 Quota exceeded.
            DenyPublish(publish, ReasonCode.QuotaExceeded);
            return;
        }

        switch (publish.Qos)
        {
            case QoS.AtMostOnce:
                // Nothing to acknowledge, but a task that is still running means a subscriber's queue
                // is backed up (Broker:OverflowPolicy backpressure): the read loop waits for it
                // before the next packet, so this client is slowed by TCP rather than its messages dropped.
                _edge.Broker.PublishPacedAsync(message, out _publishWait).Forget();

                break;
            case QoS.AtLeastOnce:
                // MQTT-4.3.2-2: PUBACK once the message is ours (durable for persistent subscribers).
                _unackedQos1++;
                var stored = _edge.Broker.PublishAsync(message, out var matched);
                _responses.Add(Response.Packet(MqttPacketType.PubAck, publish.PacketId, stored, RoutedReason(matched)));
                break;
            default:
                // MQTT-4.3.3-2 (method B): route on the first PUBLISH, remember the id until PUBREL,
                // and answer a re-sent PUBLISH with PUBREC without routing it again.
                // The id is stored in the same write as the message (never before it), so a
                // PUBLISH re-sent after a crash is either routed again or truly already held.
                // A re-sent PUBLISH is not routed again, so whether it matched is unknown: 0x00.
                var routed = true;
                var durable = link.Session.TryAddReceivedId(publish.PacketId)
                    ? _edge.Broker.PublishExactlyOnceAsync(message, link.Session, publish.PacketId, out routed)
                    : Task.CompletedTask;

                _responses.Add(Response.Packet(MqttPacketType.PubRec, publish.PacketId, durable, RoutedReason(routed)));
                break;
        }
    }

    /// <summary>
    /// MQTT 5 §3.4.2.1 / §3.5.2.1: 0x10 No matching subscribers when no subscription matched the
    /// topic (a success code: the message was accepted, and retained if it asked to be).
    /// </summary>
    private ReasonCode RoutedReason(bool matched) => _v5 && !matched ? ReasonCode.NoMatchingSubscribers : ReasonCode.Success;

    /// <summary>
    /// A publish the ACL denies is not routed. MQTT 5 answers 0x87 Not authorized in PUBACK/PUBREC
    /// (§3.4.2.1, §3.5.2.1); MQTT 3.1.1 has no way to say it, so QoS 1/2 are acknowledged as if
    /// delivered (as mosquitto does) and the authorizer logs the denial.
    /// </summary>
    private void DenyPublish(PublishPacket publish, ReasonCode v5Reason)
    {
        var reason = _v5 ? v5Reason : ReasonCode.Success;
        switch (publish.Qos)
        {
            case QoS.AtLeastOnce:
                _unackedQos1++;
                _responses.Add(Response.Packet(MqttPacketType.PubAck, publish.PacketId, reason: reason));
                break;
            case QoS.ExactlyOnce:
                // v3: keep the id until PUBREL so the exchange ends with PUBCOMP like any other (MQTT-4.3.3).
                if (!_v5)
                {
                    _link!.Session.TryAddReceivedId(publish.PacketId, out _);
                }

                _responses.Add(Response.Packet(MqttPacketType.PubRec, publish.PacketId, reason: reason));
                break;
        }
    }

    /// <summary>
    /// The Core message of an MQTT 5 PUBLISH: topic alias resolved, properties forwarded, expiry
    /// made absolute. Null when the publish is refused with a reason code instead of routed.
    /// </summary>
    private Message? ToV5Message(PublishPacket publish, string clientId)
    {
        var props = publish.Properties;
        var topic = ResolveTopic(publish.Topic, props?.TopicAlias);
        // A re-sent QoS 2 PUBLISH whose id we already hold takes no new slot.
        var resent = publish.Qos == QoS.ExactlyOnce && publish.Dup && _link!.Session.HasReceivedId(publish.PacketId);
        if (publish.Qos != QoS.AtMostOnce && !resent
            && _unackedQos1 + _link!.Session.ReceivedIdCount >= _edge.Options.ReceiveMaximum)
        {
            // MQTT 5 §3.3.4: more unacknowledged QoS 1/2 publishes than our Receive Maximum.
            ThrowHelper.ProtocolError("MQTT-3.3.4-7", "Receive Maximum exceeded", (byte)ReasonCode.ReceiveMaximumExceeded);
        }

        if (props?.ResponseTopic is { } responseTopic && !Core.Topics.TopicValidator.IsValidTopicName(responseTopic))
        {
            // MQTT-3.3.2-14: the Response Topic is a topic name: no wildcards.
            ThrowHelper.ProtocolError("MQTT-3.3.2-14", "Response Topic with wildcards");
        }

        if (props?.PayloadFormatIndicator == 1 && !Utf8.IsValid(publish.Payload))
        {
            // MQTT 5 §3.3.2.3.2: declared UTF-8 but is not: 0x99 Payload format invalid.
            if (publish.Qos == QoS.AtMostOnce)
            {
                ThrowHelper.ProtocolError("MQTT 5 §3.3.2.3.2", "Payload is not the UTF-8 its format indicator says",
                    (byte)ReasonCode.PayloadFormatInvalid);
            }

            _responses.Add(Response.Packet(publish.Qos == QoS.AtLeastOnce ? MqttPacketType.PubAck : MqttPacketType.PubRec,
                publish.PacketId, reason: ReasonCode.PayloadFormatInvalid));
            return null;
        }

        DateTimeOffset? expiresAt = props?.MessageExpiryInterval is { } seconds
            ? _edge.Broker.Time.GetUtcNow().AddSeconds(seconds)
            : null;
        return new Message(topic, publish.Payload, publish.Qos, publish.Retain, MqttProperties.ToMessageProperties(props), clientId, expiresAt);
    }

    /// <summary>PUBREL (MQTT-4.3.3): forget the id, answer PUBCOMP (v5: 0x92 for an id we did not hold).</summary>
    private void HandlePubRel(AckPacket ack)
    {
        var known = _link!.Session.RemoveReceivedId(ack.PacketId);
        _responses.Add(Response.Packet(MqttPacketType.PubComp, ack.PacketId,
            reason: known ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound));
    }

    /// <summary>PUBACK of a QoS 1 delivery (MQTT-4.3.2): done; the window may admit more.</summary>
    private void HandlePubAck(AckPacket ack)
    {
        if (_link!.Session.Complete(ack.PacketId))
        {
            OnDeliveriesPending();
        }
    }

    /// <summary>
    /// PUBREC of a QoS 2 delivery (MQTT-4.3.3): answer PUBREL and wait for PUBCOMP. A v5 PUBREC
    /// with an error reason ends the flow (§4.3.3); an unknown id gets PUBREL 0x92.
    /// </summary>
    private void HandlePubRec(AckPacket ack)
    {
        var session = _link!.Session;
        if (ack.ReasonCode >= 0x80)
        {
            if (session.Complete(ack.PacketId))
            {
                OnDeliveriesPending();
            }

            return;
        }

        if (session.Release(ack.PacketId, out var durable))
        {
            // PUBREL only once the Released state is stored: after it the client forgets the id.
            _responses.Add(Response.Packet(MqttPacketType.PubRel, ack.PacketId, durable));
        }
        else if (_v5)
        {
            _responses.Add(Response.Packet(MqttPacketType.PubRel, ack.PacketId, reason: ReasonCode.PacketIdentifierNotFound));
        }
    }

    private void HandlePubComp(AckPacket ack)
    {
        if (_link!.Session.Complete(ack.PacketId))
        {
            OnDeliveriesPending();
        }
    }
}

/// <summary>A client publishing faster than Limits:MaxPublishesPerSecond allows: the connection ends.</summary>
internal sealed class PublishRateExceededException() : Exception("publish rate too high (Limits:MaxPublishesPerSecond)");
