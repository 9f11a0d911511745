using System.Collections.Concurrent;
using Cicada.Amqp.Protocol;
using Cicada.Core;
using Cicada.Core.Sessions;
using Cicada.Core.Storage;
using Cicada.Core.Topics;

namespace Cicada.Amqp.Routing;

/// <summary>
/// The one virtual host, <c>/</c>: exchanges, queues and bindings. Declarations serialise on one
/// lock (they are rare); routing reads lock-free. Every queue is a Core session; amq.topic is
/// Core's topic space (§3.1.3 for the standard exchanges).
/// </summary>
internal sealed partial class VirtualHost(Broker broker, ITopologyStore store)
{
    public const string Name = "/";
    public const string TopicExchange = "amq.topic";

    private readonly ConcurrentDictionary<string, Exchange> _exchanges = CreateStandardExchanges();
    private readonly ConcurrentDictionary<string, AmqpQueue> _queues = new(StringComparer.Ordinal);
    private readonly Lock _sync = new();

    public Broker Broker { get; } = broker;

    private static ConcurrentDictionary<string, Exchange> CreateStandardExchanges()
    {
        // §3.1.3.1: the default exchange and amq.direct/fanout/topic/headers/match are always there.
        var all = new ConcurrentDictionary<string, Exchange>(StringComparer.Ordinal);
        foreach (var (name, type) in new[]
        {
            (string.Empty, ExchangeType.Direct), ("amq.direct", ExchangeType.Direct), ("amq.fanout", ExchangeType.Fanout),
            (TopicExchange, ExchangeType.Topic), ("amq.headers", ExchangeType.Headers), ("amq.match", ExchangeType.Headers),
        })
        {
            all[name] = new Exchange(name, type, durable: true, autoDelete: false, @internal: false, arguments: null, builtIn: true);
        }

        return all;
    }

    public bool TryGetQueue(string name, out AmqpQueue? queue) => _queues.TryGetValue(name, out queue);

    public Exchange GetExchange(string name, uint method)
    {
        if (!_exchanges.TryGetValue(name, out var exchange))
        {
            Throw.Channel(ReplyCode.NotFound, $"no exchange '{name}' in vhost '{Name}'", method);
        }

        return exchange;
    }

    public AmqpQueue GetQueue(string name, object connection, uint method)
    {
        if (!_queues.TryGetValue(name, out var queue) || queue.Deleted)
        {
            Throw.Channel(ReplyCode.NotFound, $"no queue '{name}' in vhost '{Name}'", method);
        }

        CheckExclusive(queue, connection, method);
        return queue;
    }

    private static void CheckExclusive(AmqpQueue queue, object connection, uint method)
    {
        if (queue.Exclusive && !ReferenceEquals(queue.Owner, connection))
        {
            // §queue.declare exclusive: only the declaring connection may use it.
            Throw.Channel(ReplyCode.ResourceLocked, $"cannot obtain exclusive access to locked queue '{queue.Name}' in vhost '{Name}'", method);
        }
    }

    public Exchange DeclareExchange(string name, string typeName, bool passive, bool durable, bool autoDelete, bool @internal,
        Dictionary<string, object?> arguments)
    {
        const uint method = Method.ExchangeDeclare;
        lock (_sync)
        {
            if (passive)
            {
                return GetExchange(name, method);
            }

            if (name.Length == 0 || (name.StartsWith("amq.", StringComparison.Ordinal) && !_exchanges.ContainsKey(name)))
            {
                // §exchange.declare: "amq." names are reserved, the default exchange is not declared.
                Throw.Channel(ReplyCode.AccessRefused, $"exchange name '{name}' contains reserved prefix 'amq.'", method);
            }

            if (Exchange.ParseType(typeName) is not { } type)
            {
                return Throw.Connection<Exchange>(ReplyCode.CommandInvalid, $"unknown exchange type '{typeName}'", method);
            }

            if (_exchanges.TryGetValue(name, out var existing))
            {
                // §exchange.declare: a redeclaration must match the existing exchange.
                if (existing.Type != type || existing.Durable != durable || existing.AutoDelete != autoDelete || existing.Internal != @internal)
                {
                    Throw.Channel(ReplyCode.PreconditionFailed,
                        $"inequivalent arg for exchange '{name}' in vhost '{Name}': received type '{typeName}' durable {durable}, current type '{Exchange.TypeName(existing.Type)}' durable {existing.Durable}", method);
                }

                return existing;
            }

            var exchange = new Exchange(name, type, durable, autoDelete, @internal, arguments.Count == 0 ? null : arguments, builtIn: false);
            _exchanges[name] = exchange;
            if (durable)
            {
                SaveExchange(exchange).Forget();
            }

            return exchange;
        }
    }

    public void DeleteExchange(string name, bool ifUnused)
    {
        const uint method = Method.ExchangeDelete;
        lock (_sync)
        {
            if (!_exchanges.TryGetValue(name, out var exchange))
            {
                // RabbitMQ answers delete-ok for an exchange that is not there; the harnesses expect it.
                return;
            }

            if (exchange.BuiltIn)
            {
                Throw.Channel(ReplyCode.AccessRefused, $"operation not permitted on exchange '{name}'", method);
            }

            if (ifUnused && exchange.InUse)
            {
                Throw.Channel(ReplyCode.PreconditionFailed, $"exchange '{name}' in vhost '{Name}' in use", method);
            }

            RemoveExchangeLocked(exchange);
        }
    }

    private void RemoveExchangeLocked(Exchange exchange)
    {
        if (!_exchanges.TryRemove(new KeyValuePair<string, Exchange>(exchange.Name, exchange)))
        {
            return;
        }

        RemoveExchangeBindingsLocked(exchange);
        foreach (var binding in exchange.Bindings)
        {
            exchange.RemoveBinding(binding.Queue, binding.RoutingKey, binding.Arguments);
            if (exchange.Durable && binding.Queue.Durable)
            {
                store.DeleteTopologyAsync(BindingKey(exchange, binding)).Forget();
            }
        }

        if (exchange.Durable)
        {
            store.DeleteTopologyAsync(ExchangeKey(exchange.Name)).Forget();
        }
    }

    /// <summary>queue.declare; returns the queue and whether it is new.</summary>
    public AmqpQueue DeclareQueue(string name, bool passive, bool durable, bool exclusive, bool autoDelete,
        Dictionary<string, object?> arguments, object connection)
    {
        const uint method = Method.QueueDeclare;
        lock (_sync)
        {
            if (passive)
            {
                return GetQueue(name, connection, method);
            }

            if (name.Length == 0)
            {
                // §queue.declare: an empty name asks the server for a unique one.
                name = "amq.gen-" + Convert.ToBase64String(Guid.NewGuid().ToByteArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            }
            else if (name.StartsWith("amq.", StringComparison.Ordinal))
            {
                Throw.Channel(ReplyCode.AccessRefused, $"queue name '{name}' contains reserved prefix 'amq.'", method);
            }

            if (_queues.TryGetValue(name, out var existing) && !existing.Deleted)
            {
                CheckExclusive(existing, connection, method);
                if (existing.Durable != durable || existing.Exclusive != exclusive || existing.AutoDelete != autoDelete)
                {
                    Throw.Channel(ReplyCode.PreconditionFailed,
                        $"inequivalent arg 'durable/exclusive/auto_delete' for queue '{name}' in vhost '{Name}'", method);
                }

                // RabbitMQ: the arguments it applies must match too (inequivalent arg, 406).
                if (existing.Limits.Difference(QueueLimits.Parse(arguments, method)) is { } differing)
                {
                    Throw.Channel(ReplyCode.PreconditionFailed, $"inequivalent arg '{differing}' for queue '{name}' in vhost '{Name}'", method);
                }

                existing.Touch();
                return existing;
            }

            QueueLimits.Parse(arguments, method);
            var queue = new AmqpQueue(name, durable, exclusive, autoDelete, arguments.Count == 0 ? null : arguments,
                exclusive ? connection : null, Broker.Time);
            Attach(queue);
            _queues[name] = queue;
            if (durable && !exclusive)
            {
                SaveQueue(queue).Forget();
            }

            return queue;
        }
    }

    /// <summary>Gives the queue its Core session, permanently attached: the queue is its own connection.</summary>
    private void Attach(AmqpQueue queue)
    {
        var persistent = queue.Durable && !queue.Exclusive;
        var result = Broker.Connect(queue.ClientId, cleanStart: !persistent, persistent, queue, will: null, "amqp", remote: null);
        queue.Link = result.Link;
        if (result.SessionPresent)
        {
            // Deliveries a consumer had before a restart were not acknowledged: they go again, redelivered.
            var inflight = queue.Session.InflightSnapshot();
            queue.Requeue(inflight.Select(i => new QueuedMessage(i.Delivery, i.Id, true)));
        }
    }

    /// <summary>queue.delete; returns the number of ready messages deleted.</summary>
    public uint DeleteQueue(AmqpQueue queue, bool ifUnused, bool ifEmpty)
    {
        const uint method = Method.QueueDelete;
        lock (_sync)
        {
            if (ifUnused && queue.ConsumerCount > 0)
            {
                Throw.Channel(ReplyCode.PreconditionFailed, $"queue '{queue.Name}' in vhost '{Name}' in use", method);
            }

            if (ifEmpty && queue.MessageCount > 0)
            {
                Throw.Channel(ReplyCode.PreconditionFailed, $"queue '{queue.Name}' in vhost '{Name}' not empty", method);
            }

            return RemoveQueueLocked(queue);
        }
    }

    private uint RemoveQueueLocked(AmqpQueue queue)
    {
        if (queue.Deleted)
        {
            return 0;
        }

        _queues.TryRemove(new KeyValuePair<string, AmqpQueue>(queue.Name, queue));
        foreach (var exchange in _exchanges.Values)
        {
            foreach (var binding in exchange.RemoveBindingsOf(queue))
            {
                if (queue.Durable && exchange.Durable)
                {
                    store.DeleteTopologyAsync(BindingKey(exchange, binding)).Forget();
                }
            }

            if (exchange.AutoDelete && !exchange.InUse && !exchange.BuiltIn)
            {
                RemoveExchangeLocked(exchange);
            }
        }

        var (consumers, messages) = queue.MarkDeleted();
        Broker.RemoveSession(queue.Session);
        if (queue.Durable && !queue.Exclusive)
        {
            store.DeleteTopologyAsync(QueueKey(queue.Name)).Forget();
        }

        foreach (var consumer in consumers)
        {
            // RabbitMQ's consumer cancel notification: the consumer learns its queue is gone.
            consumer.Channel.OnConsumerCancelled(consumer);
        }

        return messages;
    }

    /// <summary>Deletes an auto-delete queue whose last consumer went (§queue.declare auto-delete).</summary>
    public void OnConsumerRemoved(AmqpQueue queue, int remaining)
    {
        if (remaining == 0 && queue.AutoDelete && queue.HadConsumer)
        {
            lock (_sync)
            {
                RemoveQueueLocked(queue);
            }
        }
    }

    /// <summary>The connection ended: its exclusive queues go with it (§queue.declare exclusive).</summary>
    public void OnConnectionClosed(object connection)
    {
        lock (_sync)
        {
            foreach (var queue in _queues.Values)
            {
                if (queue.Exclusive && ReferenceEquals(queue.Owner, connection))
                {
                    RemoveQueueLocked(queue);
                }
            }
        }
    }

    public Task BindAsync(AmqpQueue queue, Exchange exchange, string routingKey, Dictionary<string, object?> arguments)
    {
        Task durable = Task.CompletedTask;
        lock (_sync)
        {
            if (exchange.IsDefault)
            {
                // §queue.bind: every queue is bound to the default exchange by its name, and only so.
                Throw.Channel(ReplyCode.AccessRefused, "operation not permitted on the default exchange", Method.QueueBind);
            }

            var binding = new Binding(queue, routingKey, arguments.Count == 0 ? null : arguments);
            if (!exchange.AddBinding(binding))
            {
                return Task.CompletedTask;
            }

            if (exchange.IsTopicSpace)
            {
                var filter = TopicMapping.ToFilter(routingKey, out var exact);
                if (TopicValidator.IsValidTopicFilter(filter) && queue.AddTopicFilter(filter, routingKey, exact))
                {
                    // At least once for the queue's subscription: QoS 1/2 publishes are stored for a durable queue.
                    durable = Broker.SubscribeAsync(queue.Link, filter, new SubscriptionOptions(QoS.AtLeastOnce));
                }
            }

            if (queue.Durable && exchange.Durable && !queue.Exclusive)
            {
                var saved = SaveBinding(exchange, binding);
                durable = durable.IsCompleted ? saved : Task.WhenAll(durable, saved);
            }
        }

        return durable;
    }

    public void Unbind(AmqpQueue queue, Exchange exchange, string routingKey, Dictionary<string, object?> arguments)
    {
        lock (_sync)
        {
            if (exchange.IsDefault)
            {
                Throw.Channel(ReplyCode.AccessRefused, "operation not permitted on the default exchange", Method.QueueUnbind);
            }

            var removed = exchange.RemoveBinding(queue, routingKey, arguments.Count == 0 ? null : arguments);
            if (removed is null)
            {
                // RabbitMQ answers unbind-ok for a binding that is not there.
                return;
            }

            if (exchange.IsTopicSpace)
            {
                var filter = TopicMapping.ToFilter(routingKey, out var exact);
                if (queue.RemoveTopicFilter(filter, routingKey, exact))
                {
                    Broker.Unsubscribe(queue.Link, filter);
                }
            }

            if (queue.Durable && exchange.Durable && !queue.Exclusive)
            {
                store.DeleteTopologyAsync(BindingKey(exchange, removed)).Forget();
            }

            if (exchange.AutoDelete && !exchange.InUse && !exchange.BuiltIn)
            {
                RemoveExchangeLocked(exchange);
            }
        }
    }
}
