using Cicada.Amqp.Protocol;
using Cicada.Core;
using Cicada.Core.Sessions;
using Cicada.Core.Topics;

namespace Cicada.Amqp.Routing;

internal sealed partial class VirtualHost
{
    [ThreadStatic]
    private static List<AmqpQueue>? _queuesScratch;

    [ThreadStatic]
    private static List<Subscription>? _matchesScratch;

    /// <summary>
    /// Routes one published message (§basic.publish). amq.topic publishes into Core's topic space
    /// (every protocol's subscribers); the other exchanges queue it onto the matching queues'
    /// sessions. <paramref name="routed"/> says whether anything received it (for mandatory).
    /// The task completes when what must be durable is.
    /// </summary>
    public Task PublishAsync(Exchange exchange, string routingKey, BasicProperties properties, byte[] rawProperties,
        ReadOnlyMemory<byte> body, string? origin, out bool routed)
    {
        // delivery-mode 2 asks durable queues to keep the message: Core's at-least-once.
        var qos = properties.Persistent ? QoS.AtLeastOnce : QoS.AtMostOnce;
        var expiresAt = PropertyMapping.ExpiresAt(properties, Broker.Time);
        var coreProperties = PropertyMapping.ToCore(properties);

        if (exchange.IsTopicSpace)
        {
            var topic = TopicMapping.ToTopic(routingKey);
            if (topic is null)
            {
                routed = false;
                return Task.CompletedTask;
            }

            var matches = _matchesScratch ??= [];
            Broker.Subscriptions.Match(topic, matches);
            routed = matches.Count > 0;
            matches.Clear();

            var message = new Message(topic, body, qos, retain: false, coreProperties, origin, expiresAt);
            PropertyMapping.Remember(message, rawProperties);
            return Broker.PublishAsync(message);
        }

        var queues = _queuesScratch ??= [];
        try
        {
            if (exchange.IsDefault)
            {
                // §3.1.3.1: the default exchange routes to the queue named by the routing key.
                if (_queues.TryGetValue(routingKey, out var queue) && !queue.Deleted)
                {
                    queues.Add(queue);
                }
            }
            else
            {
                exchange.Route(routingKey, properties.Headers, queues);
            }

            routed = queues.Count > 0;
            if (!routed)
            {
                return Task.CompletedTask;
            }

            var targeted = new Message(MessageAddress.Encode(exchange.Name, routingKey), body, qos, retain: false, coreProperties, origin, expiresAt);
            PropertyMapping.Remember(targeted, rawProperties);
            var sessions = new Session[queues.Count];
            for (var i = 0; i < queues.Count; i++)
            {
                sessions[i] = queues[i].Session;
            }

            return Broker.EnqueueAsync(targeted, sessions);
        }
        finally
        {
            queues.Clear();
        }
    }
}
