using System.Globalization;

namespace Cicada.Amqp.Routing;

internal enum ExchangeType
{
    Direct,
    Fanout,
    Topic,
    Headers,
}

/// <summary>One binding of a queue to an exchange (queue.bind): identity is (queue, key, arguments).</summary>
internal sealed record Binding(AmqpQueue Queue, string RoutingKey, Dictionary<string, object?>? Arguments)
{
    public bool SameAs(AmqpQueue queue, string key, Dictionary<string, object?>? arguments) =>
        ReferenceEquals(Queue, queue) && RoutingKey == key && ArgumentsEqual(Arguments, arguments);

    internal static bool ArgumentsEqual(Dictionary<string, object?>? a, Dictionary<string, object?>? b)
    {
        var countA = a?.Count ?? 0;
        var countB = b?.Count ?? 0;
        if (countA != countB)
        {
            return false;
        }

        if (countA == 0)
        {
            return true;
        }

        foreach (var (key, value) in a!)
        {
            if (!b!.TryGetValue(key, out var other) || !HeadersMatcher.ValueEquals(value, other))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>
/// An exchange. Routing for every exchange except amq.topic happens here, AMQP-only, onto Core
/// sessions (a queue is a session); amq.topic is Core's topic space and routes in Core's tree.
/// Bindings are an array swapped whole, so routing reads them without a lock.
/// </summary>
internal sealed partial class Exchange(string name, ExchangeType type, bool durable, bool autoDelete, bool @internal,
    Dictionary<string, object?>? arguments, bool builtIn)
{
    private volatile Binding[] _bindings = [];

    public string Name { get; } = name;
    public ExchangeType Type { get; } = type;
    public bool Durable { get; } = durable;
    public bool AutoDelete { get; } = autoDelete;
    public bool Internal { get; } = @internal;
    public Dictionary<string, object?>? Arguments { get; } = arguments;
    public bool BuiltIn { get; } = builtIn;

    /// <summary>amq.topic: its bindings are Core subscriptions and its messages Core publishes.</summary>
    public bool IsTopicSpace => Name == VirtualHost.TopicExchange;

    public bool IsDefault => Name.Length == 0;

    public Binding[] Bindings => _bindings;

    public static string TypeName(ExchangeType type) => type switch
    {
        ExchangeType.Direct => "direct",
        ExchangeType.Fanout => "fanout",
        ExchangeType.Topic => "topic",
        _ => "headers",
    };

    public static ExchangeType? ParseType(string name) => name switch
    {
        "direct" => ExchangeType.Direct,
        "fanout" => ExchangeType.Fanout,
        "topic" => ExchangeType.Topic,
        "headers" => ExchangeType.Headers,
        _ => null,
    };

    /// <summary>Adds a binding; false when the same one exists (queue.bind is idempotent).</summary>
    public bool AddBinding(Binding binding)
    {
        var current = _bindings;
        foreach (var b in current)
        {
            if (b.SameAs(binding.Queue, binding.RoutingKey, binding.Arguments))
            {
                return false;
            }
        }

        _bindings = [.. current, binding];
        return true;
    }

    public Binding? RemoveBinding(AmqpQueue queue, string key, Dictionary<string, object?>? arguments)
    {
        var current = _bindings;
        for (var i = 0; i < current.Length; i++)
        {
            if (current[i].SameAs(queue, key, arguments))
            {
                var removed = current[i];
                _bindings = [.. current[..i], .. current[(i + 1)..]];
                return removed;
            }
        }

        return null;
    }

    public List<Binding> RemoveBindingsOf(AmqpQueue queue)
    {
        var removed = _bindings.Where(b => ReferenceEquals(b.Queue, queue)).ToList();
        if (removed.Count > 0)
        {
            _bindings = _bindings.Where(b => !ReferenceEquals(b.Queue, queue)).ToArray();
        }

        return removed;
    }

    /// <summary>Queues matching a message (exchange types of amqp0-9-1.xml); each at most once.</summary>
    public void Route(string routingKey, Dictionary<string, object?>? headers, List<AmqpQueue> result)
    {
        foreach (var binding in _bindings)
        {
            if (Matches(binding.RoutingKey, binding.Arguments, routingKey, headers) && !result.Contains(binding.Queue))
            {
                result.Add(binding.Queue);
            }
        }
    }
}

/// <summary>Headers exchange matching: <c>x-match</c> all (default) or any; <c>x-</c> arguments are not matched (RabbitMQ's rules).</summary>
internal static class HeadersMatcher
{
    public static bool Matches(Dictionary<string, object?>? binding, Dictionary<string, object?>? headers)
    {
        var any = binding is not null && binding.TryGetValue("x-match", out var mode) && mode is string m && m.StartsWith("any", StringComparison.Ordinal);
        if (binding is not null)
        {
            foreach (var (key, expected) in binding)
            {
                if (key.StartsWith("x-", StringComparison.Ordinal))
                {
                    continue;
                }

                var present = headers is not null && headers.TryGetValue(key, out var actual)
                    // A void (null) binding value matches presence alone.
                    && (expected is null || ValueEquals(expected, actual));
                if (any && present)
                {
                    return true;
                }

                if (!any && !present)
                {
                    return false;
                }
            }
        }

        // "any" with nothing matched (or nothing to match) routes nowhere; "all" with every key present routes.
        return !any;
    }

    /// <summary>Compares field values as RabbitMQ does: numbers by value, strings and bytes by content.</summary>
    public static bool ValueEquals(object? a, object? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }

        if (IsNumber(a) && IsNumber(b))
        {
            return Convert.ToDecimal(a, CultureInfo.InvariantCulture) == Convert.ToDecimal(b, CultureInfo.InvariantCulture);
        }

        if (a is byte[] x && b is byte[] y)
        {
            return x.AsSpan().SequenceEqual(y);
        }

        return a.Equals(b);
    }

    private static bool IsNumber(object value) =>
        value is sbyte or byte or short or ushort or int or uint or long or ulong or decimal or float or double;
}
