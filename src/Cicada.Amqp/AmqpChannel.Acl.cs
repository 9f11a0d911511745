using Cicada.Amqp.Protocol;
using Cicada.Amqp.Routing;

namespace Cicada.Amqp;

/// <summary>
/// The ACL at the AMQP edge: the same <see cref="Core.Auth.IAuthorizer"/> MQTT asks. amq.topic is
/// the shared topic space, so a publish to it is a publish to the topic its routing key maps to
/// (<see cref="TopicMapping"/>) and a binding to it is a subscription to the key's MQTT filter.
/// A refusal closes the channel with 403 ACCESS_REFUSED (AMQP 0-9-1 §1.2 "access-refused": a soft
/// error, the connection stays), worded as RabbitMQ's topic authorisation words it. The other
/// exchanges route between AMQP queues only and never reach the topic space.
/// </summary>
internal sealed partial class AmqpChannel
{
    private void AuthorizePublish(Exchange exchange, string routingKey)
    {
        // A key that maps to no valid topic name reaches no one (VirtualHost.PublishAsync): nothing to guard.
        if (!exchange.IsTopicSpace || TopicMapping.ToTopic(routingKey) is not { } topic
            || _connection.Edge.Authorizer.CanPublish(_connection.Identity, topic))
        {
            return;
        }

        Throw.Channel(ReplyCode.AccessRefused,
            $"write access to topic '{routingKey}' in exchange '{exchange.Name}' refused for {Who()}", Method.BasicPublish);
    }

    /// <summary>
    /// The binding's filter is judged as it becomes a Core subscription: a key MQTT cannot express
    /// exactly (<c>a.#.b</c>) is widened to <c>a/#</c>, and the widened filter must be readable,
    /// because the subscription, not each delivery, is what the ACL checks.
    /// </summary>
    private void AuthorizeBind(Exchange exchange, string bindingKey)
    {
        if (!exchange.IsTopicSpace)
        {
            return;
        }

        var filter = TopicMapping.ToFilter(bindingKey, out _);
        if (!_connection.Edge.Authorizer.CanSubscribe(_connection.Identity, filter))
        {
            Throw.Channel(ReplyCode.AccessRefused,
                $"read access to topic '{bindingKey}' in exchange '{exchange.Name}' refused for {Who()}", Method.QueueBind);
        }
    }

    /// <summary>
    /// Consuming from a queue reads what its amq.topic bindings bring in, whoever made them: the
    /// consumer must be able to read every one of them, or another user's queue would be a way around the ACL.
    /// </summary>
    private void AuthorizeRead(AmqpQueue queue, uint method)
    {
        foreach (var filter in queue.TopicFilters())
        {
            if (!_connection.Edge.Authorizer.CanSubscribe(_connection.Identity, filter))
            {
                Throw.Channel(ReplyCode.AccessRefused,
                    $"read access to queue '{queue.Name}' refused for {Who()}: it is bound to topics '{filter}' the user may not read", method);
            }
        }
    }

    private string Who() => _connection.Username is { } user ? $"user '{user}'" : "the anonymous user";
}
