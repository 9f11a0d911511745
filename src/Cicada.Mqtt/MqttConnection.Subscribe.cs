using Cicada.Core;
using Cicada.Core.Topics;
using Cicada.Mqtt.Protocol;

namespace Cicada.Mqtt;

internal sealed partial class MqttConnection
{
    private void HandleSubscribe(ReadOnlySpan<byte> body)
    {
        var requests = new List<TopicRequest>();
        var packetId = MqttDecoder.DecodeSubscribe(body, requests);
        var codes = new byte[requests.Count];
        var retained = new List<(string, SubscriptionOptions)>(requests.Count);
        Task durable = Task.CompletedTask;
        for (var i = 0; i < requests.Count; i++)
        {
            var (filter, qos) = requests[i];
            if (!TopicValidator.IsValidTopicFilter(filter))
            {
                // MQTT-4.7.1-2/3 broken by the client: a protocol violation closes the connection (MQTT-4.8.0-1).
                ThrowHelper.Protocol("MQTT-4.7.1-2", $"Invalid topic filter '{filter}'");
            }

            // MQTT-3.8.4-6: granted QoS is the requested one (this broker supports all three).
            var options = new SubscriptionOptions(qos);
            var stored = _edge.Broker.SubscribeAsync(_link!, filter, options);
            if (!stored.IsCompletedSuccessfully)
            {
                durable = stored;
            }

            codes[i] = (byte)qos;
            retained.Add((filter, options));
        }

        // MQTT-3.8.4-1: SUBACK with the same packet id, codes in request order (MQTT-3.8.4-5).
        _responses.Add(new Response(MqttPacketType.SubAck, packetId, durable.IsCompleted ? null : durable, codes, Retained: retained));
    }

    private void HandleUnsubscribe(ReadOnlySpan<byte> body)
    {
        var filters = new List<string>();
        var packetId = MqttDecoder.DecodeUnsubscribe(body, filters);
        foreach (var filter in filters)
        {
            _edge.Broker.Unsubscribe(_link!, filter);
        }

        // MQTT-3.10.4-4/5: UNSUBACK, even when nothing matched.
        _responses.Add(Response.Packet(MqttPacketType.UnsubAck, packetId));
    }
}
