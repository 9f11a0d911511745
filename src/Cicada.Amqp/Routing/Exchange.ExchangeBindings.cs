namespace Cicada.Amqp.Routing;

/// <summary>An exchange-to-exchange binding (RabbitMQ's exchange.bind): messages the source routes with the key go on to <see cref="Destination"/>.</summary>
internal sealed record ExchangeBinding(Exchange Destination, string RoutingKey, Dictionary<string, object?>? Arguments)
{
    public bool SameAs(Exchange destination, string key, Dictionary<string, object?>? arguments) =>
        ReferenceEquals(Destination, destination) && RoutingKey == key && Binding.ArgumentsEqual(Arguments, arguments);
}

/// <summary>Exchange-to-exchange bindings of which this exchange is the source; an array swapped whole, as queue bindings.</summary>
internal sealed partial class Exchange
{
    private volatile ExchangeBinding[] _exchangeBindings = [];

    public ExchangeBinding[] ExchangeBindings => _exchangeBindings;

    /// <summary>Bound to anything as a source: if-unused and auto-delete count both kinds of binding (RabbitMQ's rule).</summary>
    public bool InUse => Bindings.Length > 0 || _exchangeBindings.Length > 0;

    /// <summary>Whether a binding with this key and these arguments takes a message (the exchange types of amqp0-9-1.xml).</summary>
    public bool Matches(string bindingKey, Dictionary<string, object?>? bindingArguments, string routingKey, Dictionary<string, object?>? headers) =>
        Type switch
        {
            ExchangeType.Direct => bindingKey == routingKey,
            ExchangeType.Fanout => true,
            ExchangeType.Topic => TopicMatcher.Matches(bindingKey, routingKey),
            _ => HeadersMatcher.Matches(bindingArguments, headers),
        };

    /// <summary>Adds an exchange binding; false when the same one exists (exchange.bind is idempotent).</summary>
    public bool AddExchangeBinding(ExchangeBinding binding)
    {
        var current = _exchangeBindings;
        if (current.Any(b => b.SameAs(binding.Destination, binding.RoutingKey, binding.Arguments)))
        {
            return false;
        }

        _exchangeBindings = [.. current, binding];
        return true;
    }

    public ExchangeBinding? RemoveExchangeBinding(Exchange destination, string key, Dictionary<string, object?>? arguments)
    {
        var current = _exchangeBindings;
        for (var i = 0; i < current.Length; i++)
        {
            if (current[i].SameAs(destination, key, arguments))
            {
                var removed = current[i];
                _exchangeBindings = [.. current[..i], .. current[(i + 1)..]];
                return removed;
            }
        }

        return null;
    }

    /// <summary>Removes every binding of this exchange to <paramref name="destination"/> (the destination is being deleted).</summary>
    public List<ExchangeBinding> RemoveExchangeBindingsTo(Exchange destination)
    {
        var removed = _exchangeBindings.Where(b => ReferenceEquals(b.Destination, destination)).ToList();
        if (removed.Count > 0)
        {
            _exchangeBindings = _exchangeBindings.Where(b => !ReferenceEquals(b.Destination, destination)).ToArray();
        }

        return removed;
    }

    /// <summary>Removes every exchange binding of this exchange as a source (it is being deleted).</summary>
    public ExchangeBinding[] ClearExchangeBindings()
    {
        var removed = _exchangeBindings;
        _exchangeBindings = [];
        return removed;
    }
}
