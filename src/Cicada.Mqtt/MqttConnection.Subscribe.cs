using Cicada.Core;
using Cicada.Core.Topics;
using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Mqtt;

internal sealed partial class MqttConnection
{
    private void HandleSubscribe(ReadOnlySpan<byte> body)
    {
        var requests = new List<TopicRequest>();
        var packetId = MqttDecoder.DecodeSubscribe(body, requests, _v5, out var subscriptionId);
        var codes = new byte[requests.Count];
        var retained = new List<(string, SubscriptionOptions)>(requests.Count);
        Task durable = Task.CompletedTask;
        for (var i = 0; i < requests.Count; i++)
        {
            var request = requests[i];
            var filter = request.Filter;
            var shared = TopicValidator.TryParseShared(filter, out _, out _, out var validShare);
            if (shared ? !validShare : !TopicValidator.IsValidTopicFilter(filter))
            {
                if (!_v5)
                {
                    // MQTT-4.7.1-2/3 broken by the client: a protocol violation closes the connection (MQTT-4.8.0-1).
                    ThrowHelper.Protocol("MQTT-4.7.1-2", $"Invalid topic filter '{filter}'");
                }

                // MQTT 5 §3.9.3: the filter is refused with 0x8F, the others go on.
                codes[i] = (byte)ReasonCode.TopicFilterInvalid;
                continue;
            }

            if (shared && request.NoLocal)
            {
                // MQTT-3.8.3-4: No Local on a shared subscription is a Protocol Error.
                ThrowHelper.ProtocolError("MQTT-3.8.3-4", $"No Local on shared subscription '{filter}'");
            }

            if (_edge.Limiter is { } limiter
                && (!limiter.AllowsTopic("mqtt", _link!.ClientId, filter)
                    || (!_link.Session.Subscriptions.ContainsKey(filter)
                        && !limiter.AllowsSubscription("mqtt", _link.ClientId, _link.Session.Subscriptions.Count))))
            {
                // Limits:MaxTopicLevels/MaxTopicLength/MaxSubscriptionsPerClient: MQTT 5 0x97 Quota exceeded, 3.1.1 0x80.
                codes[i] = _v5 ? (byte)ReasonCode.QuotaExceeded : (byte)0x80;
                continue;
            }

            if (!_edge.Authorizer.CanSubscribe(_link!.Identity, filter))
            {
                // MQTT-3.9.3 (3.1.1): 0x80 Failure; MQTT 5 §3.9.3: 0x87 Not authorized. No retained messages either.
                codes[i] = _v5 ? (byte)ReasonCode.NotAuthorized : (byte)0x80;
                continue;
            }

            // MQTT-3.8.4-6: granted QoS is the requested one (this broker supports all three).
            var options = new SubscriptionOptions(request.Qos, request.NoLocal, request.RetainAsPublished, request.RetainHandling,
                subscriptionId);
            var stored = _edge.Broker.Subscribe(_link!, filter, options, out var existed);
            if (!stored.IsCompletedSuccessfully)
            {
                durable = stored;
            }

            codes[i] = (byte)request.Qos;

            // MQTT 5 §3.8.3.1 Retain Handling: 0 always, 1 only for a new subscription, 2 never.
            if (request.RetainHandling == 0 || (request.RetainHandling == 1 && !existed))
            {
                retained.Add((filter, options));
            }
        }

        // MQTT-3.8.4-1: SUBACK with the same packet id, codes in request order (MQTT-3.8.4-5).
        _responses.Add(new Response(MqttPacketType.SubAck, packetId, durable.IsCompleted ? null : durable, codes, Retained: retained));
    }

    private void HandleUnsubscribe(ReadOnlySpan<byte> body)
    {
        var filters = new List<string>();
        var packetId = MqttDecoder.DecodeUnsubscribe(body, filters, _v5);
        var codes = new byte[filters.Count];
        for (var i = 0; i < filters.Count; i++)
        {
            var filter = filters[i];
            if (_v5 && (TopicValidator.TryParseShared(filter, out _, out _, out var validShare) ? !validShare : !TopicValidator.IsValidTopicFilter(filter)))
            {
                // MQTT 5 §3.11.3: a filter that could never have been subscribed is 0x8F Topic Filter
                // invalid. (3.1.1's UNSUBACK has no codes: it simply matches nothing, MQTT-3.10.4-5.)
                codes[i] = (byte)ReasonCode.TopicFilterInvalid;
                continue;
            }

            // MQTT-3.10.4-1: compared character by character; MQTT 5 §3.11.3: 0x11 No subscription existed.
            codes[i] = _edge.Broker.Unsubscribe(_link!, filter) ? (byte)ReasonCode.Success : (byte)ReasonCode.NoSubscriptionExisted;
        }

        // MQTT-3.10.4-4/5: UNSUBACK, even when nothing matched.
        _responses.Add(new Response(MqttPacketType.UnsubAck, packetId, Codes: codes));
    }
}
