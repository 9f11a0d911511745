using Cicada.Amqp.Protocol;
using Cicada.Amqp.Routing;
using Cicada.Core;

namespace Cicada.Amqp;

/// <summary>exchange.bind / exchange.unbind: RabbitMQ's exchange-to-exchange bindings (capability exchange_exchange_bindings).</summary>
internal sealed partial class AmqpChannel
{
    private void ExchangeBind(ref AmqpReader reader)
    {
        reader.ReadShort(); // reserved-1
        var destinationName = reader.ReadShortString();
        var sourceName = reader.ReadShortString();
        var routingKey = reader.ReadShortString();
        var noWait = reader.ReadBit();
        var arguments = reader.ReadTable();

        var destination = Host.GetExchange(destinationName, Method.ExchangeBind);
        var source = Host.GetExchange(sourceName, Method.ExchangeBind);
        var durable = Host.BindExchangeAsync(destination, source, routingKey, arguments);
        if (!noWait)
        {
            // A durable binding is acknowledged once stored, as queue.bind.
            _connection.AddWait(durable);
            Out.Method0(Number, Method.ExchangeBindOk);
        }
        else
        {
            durable.Forget();
        }
    }

    private void ExchangeUnbind(ref AmqpReader reader)
    {
        reader.ReadShort();
        var destinationName = reader.ReadShortString();
        var sourceName = reader.ReadShortString();
        var routingKey = reader.ReadShortString();
        var noWait = reader.ReadBit();
        var arguments = reader.ReadTable();

        var destination = Host.GetExchange(destinationName, Method.ExchangeUnbind);
        var source = Host.GetExchange(sourceName, Method.ExchangeUnbind);
        Host.UnbindExchange(destination, source, routingKey, arguments);
        if (!noWait)
        {
            Out.Method0(Number, Method.ExchangeUnbindOk);
        }
    }
}
