using System.Text.Json;
using Cicada.Amqp.Protocol;
using Cicada.Core;
using Cicada.Core.Storage;

namespace Cicada.Amqp.Routing;

/// <summary>
/// Exchange-to-exchange bindings (RabbitMQ's exchange.bind / exchange.unbind extension). Durable
/// when both exchanges are, stored as "amqp/ebinding/…" records beside queue bindings.
/// </summary>
internal sealed partial class VirtualHost
{
    private const string ExchangeBindingPrefix = Prefix + "ebinding/";

    private sealed record ExchangeBindingRecord(string Source, string Destination, string Key, string? Arguments);

    private static string ExchangeBindingKey(Exchange source, ExchangeBinding binding) =>
        ExchangeBindingPrefix + JsonSerializer.Serialize(
            new[] { source.Name, binding.Destination.Name, binding.RoutingKey, EncodeTable(binding.Arguments) ?? string.Empty }, TopologyJson.Default.StringArray);

    private Task SaveExchangeBinding(Exchange source, ExchangeBinding binding) => store.SaveTopologyAsync(new TopologyRecord(
        ExchangeBindingKey(source, binding),
        JsonSerializer.Serialize(new ExchangeBindingRecord(source.Name, binding.Destination.Name, binding.RoutingKey, EncodeTable(binding.Arguments)),
            TopologyJson.Default.ExchangeBindingRecord)));

    private static bool Persisted(Exchange source, ExchangeBinding binding) => source.Durable && binding.Destination.Durable;

    /// <summary>exchange.bind; the task completes when a durable binding is stored.</summary>
    public Task BindExchangeAsync(Exchange destination, Exchange source, string routingKey, Dictionary<string, object?> arguments)
    {
        lock (_sync)
        {
            if (destination.IsDefault || source.IsDefault)
            {
                // As for queue.bind: the default exchange's bindings are implicit and fixed.
                Throw.Channel(ReplyCode.AccessRefused, "operation not permitted on the default exchange", Method.ExchangeBind);
            }

            var binding = new ExchangeBinding(destination, routingKey, arguments.Count == 0 ? null : arguments);
            if (!source.AddExchangeBinding(binding))
            {
                return Task.CompletedTask;
            }

            return Persisted(source, binding) ? SaveExchangeBinding(source, binding) : Task.CompletedTask;
        }
    }

    /// <summary>exchange.unbind; an unknown binding succeeds (RabbitMQ answers unbind-ok).</summary>
    public void UnbindExchange(Exchange destination, Exchange source, string routingKey, Dictionary<string, object?> arguments)
    {
        lock (_sync)
        {
            if (destination.IsDefault || source.IsDefault)
            {
                Throw.Channel(ReplyCode.AccessRefused, "operation not permitted on the default exchange", Method.ExchangeUnbind);
            }

            var removed = source.RemoveExchangeBinding(destination, routingKey, arguments.Count == 0 ? null : arguments);
            if (removed is null)
            {
                return;
            }

            if (Persisted(source, removed))
            {
                store.DeleteTopologyAsync(ExchangeBindingKey(source, removed)).Forget();
            }

            if (source.AutoDelete && !source.InUse && !source.BuiltIn)
            {
                RemoveExchangeLocked(source);
            }
        }
    }

    /// <summary>An exchange is going: its bindings as source and as destination go with it; an auto-delete source left unused goes too.</summary>
    private void RemoveExchangeBindingsLocked(Exchange exchange)
    {
        foreach (var binding in exchange.ClearExchangeBindings())
        {
            if (Persisted(exchange, binding))
            {
                store.DeleteTopologyAsync(ExchangeBindingKey(exchange, binding)).Forget();
            }
        }

        foreach (var source in _exchanges.Values)
        {
            var removed = source.RemoveExchangeBindingsTo(exchange);
            foreach (var binding in removed)
            {
                if (Persisted(source, binding))
                {
                    store.DeleteTopologyAsync(ExchangeBindingKey(source, binding)).Forget();
                }
            }

            if (removed.Count > 0 && source.AutoDelete && !source.InUse && !source.BuiltIn)
            {
                RemoveExchangeLocked(source);
            }
        }
    }

    private void RestoreExchangeBindingsLocked(List<ExchangeBindingRecord> records)
    {
        foreach (var r in records)
        {
            if (_exchanges.TryGetValue(r.Source, out var source) && _exchanges.TryGetValue(r.Destination, out var destination))
            {
                source.AddExchangeBinding(new ExchangeBinding(destination, r.Key, NullIfEmpty(DecodeTable(r.Arguments))));
            }
            else
            {
                // One end was deleted while its record's removal was still queued: forget the binding.
                store.DeleteTopologyAsync(ExchangeBindingPrefix + JsonSerializer.Serialize(
                    new[] { r.Source, r.Destination, r.Key, r.Arguments ?? string.Empty }, TopologyJson.Default.StringArray)).Forget();
            }
        }
    }

    /// <summary>
    /// Every queue a message published to <paramref name="exchange"/> reaches, following exchange
    /// bindings depth-first; an exchange already visited is not entered again, so a cycle of
    /// bindings delivers each message once per queue and terminates (RabbitMQ's rule). Returns
    /// whether amq.topic was reached: the message then also goes into Core's topic space.
    /// </summary>
    private bool Collect(Exchange exchange, string routingKey, Dictionary<string, object?>? headers, List<AmqpQueue> queues, List<Exchange> visited)
    {
        if (visited.Contains(exchange))
        {
            return false;
        }

        visited.Add(exchange);
        var topicSpace = exchange.IsTopicSpace;
        if (exchange.IsDefault)
        {
            // §3.1.3.1: the default exchange routes to the queue named by the routing key.
            if (_queues.TryGetValue(routingKey, out var queue) && !queue.Deleted && !queues.Contains(queue))
            {
                queues.Add(queue);
            }
        }
        else if (!topicSpace)
        {
            // amq.topic's own queue bindings are Core subscriptions: Core routes to them.
            exchange.Route(routingKey, headers, queues);
        }

        foreach (var binding in exchange.ExchangeBindings)
        {
            if (exchange.Matches(binding.RoutingKey, binding.Arguments, routingKey, headers))
            {
                topicSpace |= Collect(binding.Destination, routingKey, headers, queues, visited);
            }
        }

        return topicSpace;
    }
}
