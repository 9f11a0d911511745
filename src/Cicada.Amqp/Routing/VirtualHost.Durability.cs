using System.Text.Json;
using Cicada.Amqp.Protocol;
using Cicada.Core;
using Cicada.Core.Storage;

namespace Cicada.Amqp.Routing;

/// <summary>Durable exchanges, queues and bindings as topology records ("amqp/…" keys, JSON values).</summary>
internal sealed partial class VirtualHost
{
    private const string Prefix = "amqp/";

    private sealed record ExchangeRecord(string Name, string Type, bool AutoDelete, bool Internal, string? Arguments);

    private sealed record QueueRecord(string Name, bool AutoDelete, string? Arguments);

    private sealed record BindingRecord(string Exchange, string Queue, string Key, string? Arguments);

    private static string ExchangeKey(string name) => Prefix + "exchange/" + name;

    private static string QueueKey(string name) => Prefix + "queue/" + name;

    private static string BindingKey(Exchange exchange, Binding binding) =>
        Prefix + "binding/" + JsonSerializer.Serialize(new[] { exchange.Name, binding.Queue.Name, binding.RoutingKey, EncodeTable(binding.Arguments) ?? string.Empty }, TopologyJson.Default.StringArray);

    private Task SaveExchange(Exchange e) => store.SaveTopologyAsync(new TopologyRecord(ExchangeKey(e.Name),
        JsonSerializer.Serialize(new ExchangeRecord(e.Name, Exchange.TypeName(e.Type), e.AutoDelete, e.Internal, EncodeTable(e.Arguments)), TopologyJson.Default.ExchangeRecord)));

    private Task SaveQueue(AmqpQueue q) => store.SaveTopologyAsync(new TopologyRecord(QueueKey(q.Name),
        JsonSerializer.Serialize(new QueueRecord(q.Name, q.AutoDelete, EncodeTable(q.Arguments)), TopologyJson.Default.QueueRecord)));

    private Task SaveBinding(Exchange e, Binding b) => store.SaveTopologyAsync(new TopologyRecord(BindingKey(e, b),
        JsonSerializer.Serialize(new BindingRecord(e.Name, b.Queue.Name, b.RoutingKey, EncodeTable(b.Arguments)), TopologyJson.Default.BindingRecord)));

    /// <summary>Field tables are kept in their wire encoding (base64): every value type survives as it was.</summary>
    private static string? EncodeTable(Dictionary<string, object?>? table)
    {
        if (table is null || table.Count == 0)
        {
            return null;
        }

        var writer = new FrameWriter(64);
        writer.WriteTable(table);
        return Convert.ToBase64String(writer.Written);
    }

    private static Dictionary<string, object?> DecodeTable(string? base64)
    {
        if (base64 is null)
        {
            return new Dictionary<string, object?>(StringComparer.Ordinal);
        }

        var reader = new AmqpReader(Convert.FromBase64String(base64));
        return reader.ReadTable();
    }

    /// <summary>
    /// Recreates durable exchanges, queues and bindings at startup, after Core has loaded its
    /// sessions (a durable queue's session, subscriptions and stored messages are Core's). Core
    /// sessions of queues that no longer exist are removed.
    /// </summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var records = await store.LoadTopologyAsync(cancellationToken);
        var bindings = new List<BindingRecord>();
        var exchangeBindings = new List<ExchangeBindingRecord>();
        lock (_sync)
        {
            foreach (var record in records)
            {
                if (record.Key.StartsWith(Prefix + "exchange/", StringComparison.Ordinal))
                {
                    var e = JsonSerializer.Deserialize(record.Value, TopologyJson.Default.ExchangeRecord)!;
                    if (Exchange.ParseType(e.Type) is { } type)
                    {
                        _exchanges[e.Name] = new Exchange(e.Name, type, durable: true, e.AutoDelete, e.Internal, NullIfEmpty(DecodeTable(e.Arguments)), builtIn: false);
                    }
                }
                else if (record.Key.StartsWith(Prefix + "queue/", StringComparison.Ordinal))
                {
                    var q = JsonSerializer.Deserialize(record.Value, TopologyJson.Default.QueueRecord)!;
                    var queue = new AmqpQueue(q.Name, durable: true, exclusive: false, q.AutoDelete, NullIfEmpty(DecodeTable(q.Arguments)), null, Broker.Time);
                    Attach(queue);
                    _queues[q.Name] = queue;
                }
                else if (record.Key.StartsWith(Prefix + "binding/", StringComparison.Ordinal))
                {
                    bindings.Add(JsonSerializer.Deserialize(record.Value, TopologyJson.Default.BindingRecord)!);
                }
                else if (record.Key.StartsWith(ExchangeBindingPrefix, StringComparison.Ordinal))
                {
                    exchangeBindings.Add(JsonSerializer.Deserialize(record.Value, TopologyJson.Default.ExchangeBindingRecord)!);
                }
            }

            foreach (var b in bindings)
            {
                if (_exchanges.TryGetValue(b.Exchange, out var exchange) && _queues.TryGetValue(b.Queue, out var queue))
                {
                    var binding = new Binding(queue, b.Key, NullIfEmpty(DecodeTable(b.Arguments)));
                    exchange.AddBinding(binding);
                    if (exchange.IsTopicSpace)
                    {
                        // Core restored the subscription with the session; the queue relearns its filter.
                        queue.AddTopicFilter(TopicMapping.ToFilter(b.Key, out var exact), b.Key, exact);
                    }
                }
            }

            RestoreExchangeBindingsLocked(exchangeBindings);
            foreach (var session in Broker.Sessions.ToList())
            {
                if (session.ClientId.StartsWith(AmqpQueue.ClientIdPrefix, StringComparison.Ordinal)
                    && !_queues.ContainsKey(session.ClientId[AmqpQueue.ClientIdPrefix.Length..]))
                {
                    Broker.RemoveSession(session);
                }
            }
        }
    }

    private static Dictionary<string, object?>? NullIfEmpty(Dictionary<string, object?> table) => table.Count == 0 ? null : table;
}
