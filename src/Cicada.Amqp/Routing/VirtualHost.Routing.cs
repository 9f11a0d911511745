using Cicada.Amqp.Protocol;
using Cicada.Core;
using Cicada.Core.Sessions;
using Cicada.Core.Topics;

namespace Cicada.Amqp.Routing;

/// <summary>A publish refused by a full queue with x-overflow reject-publish: a confirming publisher gets basic.nack.</summary>
internal sealed class PublishRefusedException(string queue) : Exception($"queue '{queue}' is full (x-overflow reject-publish)");

internal sealed partial class VirtualHost
{
    [ThreadStatic]
    private static List<AmqpQueue>? _queuesScratch;

    [ThreadStatic]
    private static List<Exchange>? _visitedScratch;

    [ThreadStatic]
    private static List<Subscription>? _matchesScratch;

    /// <summary>
    /// Routes one published message (§basic.publish) through the exchange and its exchange bindings.
    /// Reaching amq.topic publishes into Core's topic space (every protocol's subscribers); other
    /// exchanges queue it onto the matching queues' sessions, each queue once. <paramref name="routed"/>
    /// says whether anything received it (for mandatory). The task completes when what must be
    /// durable is, and faults when a full reject-publish queue refused the message.
    /// <paramref name="backpressure"/> (Broker:OverflowPolicy backpressure) is null unless a
    /// subscriber in the topic space is backed up; the connection reads no further frame until it completes.
    /// </summary>
    public Task PublishAsync(Exchange exchange, string routingKey, BasicProperties properties, byte[] rawProperties,
        ReadOnlyMemory<byte> body, string? origin, out bool routed, out Task? backpressure)
    {
        backpressure = null;
        // delivery-mode 2 asks durable queues to keep the message: Core's at-least-once.
        var qos = properties.Persistent ? QoS.AtLeastOnce : QoS.AtMostOnce;
        var expiresAt = PropertyMapping.ExpiresAt(properties, Broker.Time);
        var coreProperties = PropertyMapping.ToCore(properties);

        var queues = _queuesScratch ??= [];
        var visited = _visitedScratch ??= [];
        try
        {
            var topicSpace = Collect(exchange, routingKey, properties.Headers, queues, visited);
            routed = false;
            string? refusedBy = null;
            var durable = Task.CompletedTask;
            if (topicSpace && TopicMapping.ToTopic(routingKey) is { } topic)
            {
                var matches = _matchesScratch ??= [];
                Broker.Subscriptions.Match(topic, matches);
                routed = matches.Count > 0;
                foreach (var match in matches)
                {
                    if (match.Subscriber is Session session && QueueOf(session) is { } queue)
                    {
                        // Core delivers to this queue already: an exchange binding must not add a second copy.
                        queues.Remove(queue);
                        if (queue.RefusesPublish)
                        {
                            refusedBy = queue.Name;
                        }
                    }
                }

                matches.Clear();
                var message = new Message(topic, body, qos, retain: false, coreProperties, origin, expiresAt);
                PropertyMapping.Remember(message, rawProperties);
                durable = Broker.PublishPacedAsync(message, out backpressure);
            }

            if (queues.Count > 0)
            {
                routed = true;
                var sessions = new List<Session>(queues.Count);
                foreach (var queue in queues)
                {
                    if (queue.RefusesPublish)
                    {
                        refusedBy = queue.Name;
                    }
                    else
                    {
                        sessions.Add(queue.Session);
                    }
                }

                if (sessions.Count > 0)
                {
                    var targeted = new Message(MessageAddress.Encode(exchange.Name, routingKey), body, qos, retain: false, coreProperties, origin, expiresAt);
                    PropertyMapping.Remember(targeted, rawProperties);
                    var enqueued = Broker.EnqueueAsync(targeted, sessions);
                    durable = durable.IsCompletedSuccessfully ? enqueued : Task.WhenAll(durable, enqueued);
                }
            }

            if (refusedBy is not null)
            {
                // RabbitMQ's reject-publish: the queue refuses, the publisher is told with a nack.
                durable = Task.WhenAll(durable, Task.FromException(new PublishRefusedException(refusedBy)));
            }

            return durable;
        }
        finally
        {
            queues.Clear();
            visited.Clear();
        }
    }

    private AmqpQueue? QueueOf(Session session) =>
        session.ClientId.StartsWith(AmqpQueue.ClientIdPrefix, StringComparison.Ordinal)
        && _queues.TryGetValue(session.ClientId[AmqpQueue.ClientIdPrefix.Length..], out var queue)
            ? queue
            : null;
}
