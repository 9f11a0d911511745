using Cicada.Core;
using Cicada.Mqtt.Protocol;

namespace Cicada.Mqtt;

internal sealed partial class MqttConnection
{
    private void HandlePublish(PublishPacket publish)
    {
        var link = _link!;
        var message = new Message(publish.Topic, publish.Payload, publish.Qos, publish.Retain, originClientId: link.ClientId);
        switch (publish.Qos)
        {
            case QoS.AtMostOnce:
                _edge.Broker.PublishAsync(message).Forget();
                break;
            case QoS.AtLeastOnce:
                // MQTT-4.3.2-2: PUBACK once the message is ours (durable for persistent subscribers).
                _responses.Add(Response.Packet(MqttPacketType.PubAck, publish.PacketId, _edge.Broker.PublishAsync(message)));
                break;
            default:
                // MQTT-4.3.3-2 (method B): route on the first PUBLISH, remember the id until PUBREL,
                // and answer a re-sent PUBLISH with PUBREC without routing it again.
                Task durable = Task.CompletedTask;
                if (link.Session.TryAddReceivedId(publish.PacketId, out var idDurable))
                {
                    var routed = _edge.Broker.PublishAsync(message);
                    durable = idDurable.IsCompleted ? routed : Task.WhenAll(idDurable, routed);
                }

                _responses.Add(Response.Packet(MqttPacketType.PubRec, publish.PacketId, durable));
                break;
        }
    }

    /// <summary>PUBREL (MQTT-4.3.3): forget the id, answer PUBCOMP, even for an id already forgotten.</summary>
    private void HandlePubRel(ushort packetId)
    {
        _link!.Session.RemoveReceivedId(packetId);
        _responses.Add(Response.Packet(MqttPacketType.PubComp, packetId));
    }

    /// <summary>PUBACK of a QoS 1 delivery (MQTT-4.3.2): done; the window may admit more.</summary>
    private void HandlePubAck(ushort packetId)
    {
        if (_link!.Session.Complete(packetId))
        {
            OnDeliveriesPending();
        }
    }

    /// <summary>PUBREC of a QoS 2 delivery (MQTT-4.3.3): answer PUBREL and wait for PUBCOMP.</summary>
    private void HandlePubRec(ushort packetId)
    {
        if (_link!.Session.Release(packetId))
        {
            _responses.Add(Response.Packet(MqttPacketType.PubRel, packetId));
        }
    }

    private void HandlePubComp(ushort packetId)
    {
        if (_link!.Session.Complete(packetId))
        {
            OnDeliveriesPending();
        }
    }
}
