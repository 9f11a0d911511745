using Cicada.Amqp.Protocol;
using Cicada.Amqp.Routing;
using Cicada.Core;

namespace Cicada.Amqp;

/// <summary>exchange.* and queue.* (§exchange, §queue).</summary>
internal sealed partial class AmqpChannel
{
    /// <summary>The queue last declared on this channel: an empty queue name means it (§queue.bind queue, §basic.consume queue).</summary>
    private string? _lastQueue;

    private void ExchangeDeclare(ref AmqpReader reader)
    {
        reader.ReadShort(); // reserved-1
        var name = reader.ReadShortString();
        var type = reader.ReadShortString();
        var passive = reader.ReadBit();
        var durable = reader.ReadBit();
        var autoDelete = reader.ReadBit();
        var @internal = reader.ReadBit();
        var noWait = reader.ReadBit();
        var arguments = reader.ReadTable();

        Host.DeclareExchange(name, type, passive, durable, autoDelete, @internal, arguments);
        if (!noWait)
        {
            Out.Method0(Number, Method.ExchangeDeclareOk);
        }
    }

    private void ExchangeDelete(ref AmqpReader reader)
    {
        reader.ReadShort();
        var name = reader.ReadShortString();
        var ifUnused = reader.ReadBit();
        var noWait = reader.ReadBit();

        Host.DeleteExchange(name, ifUnused);
        if (!noWait)
        {
            Out.Method0(Number, Method.ExchangeDeleteOk);
        }
    }

    private string QueueName(string name, uint method)
    {
        if (name.Length > 0)
        {
            return name;
        }

        // §queue.bind: "If the queue name is empty, the server uses the last queue declared on the channel";
        // with none declared the field rule "queue-known" fails with not-found, a channel exception
        // (RabbitMQ: 404 "no previously declared queue").
        return _lastQueue ?? Throw.Channel<string>(ReplyCode.NotFound, "no previously declared queue", method);
    }

    /// <summary>
    /// §queue.bind routing-key: with the queue name empty (the channel's last queue) and the routing
    /// key empty too, the key is that queue's name; a named queue keeps an empty key as given.
    /// </summary>
    private static string DefaultRoutingKey(string givenQueueName, string routingKey, string queueName) =>
        givenQueueName.Length == 0 && routingKey.Length == 0 ? queueName : routingKey;

    private void QueueDeclare(ref AmqpReader reader)
    {
        reader.ReadShort();
        var name = reader.ReadShortString();
        var passive = reader.ReadBit();
        var durable = reader.ReadBit();
        var exclusive = reader.ReadBit();
        var autoDelete = reader.ReadBit();
        var noWait = reader.ReadBit();
        var arguments = reader.ReadTable();

        var queue = Host.DeclareQueue(name, passive, durable, exclusive, autoDelete, arguments, _connection);
        _lastQueue = queue.Name;
        if (!noWait)
        {
            Out.BeginMethod(Number, Method.QueueDeclareOk);
            Out.WriteShortString(queue.Name);
            Out.WriteLong(queue.MessageCount);
            Out.WriteLong(queue.ConsumerCount);
            Out.EndFrame();
        }
    }

    private void QueueBind(ref AmqpReader reader)
    {
        reader.ReadShort();
        var givenName = reader.ReadShortString();
        var queueName = QueueName(givenName, Method.QueueBind);
        var exchangeName = reader.ReadShortString();
        var routingKey = DefaultRoutingKey(givenName, reader.ReadShortString(), queueName);
        var noWait = reader.ReadBit();
        var arguments = reader.ReadTable();

        var queue = Host.GetQueue(queueName, _connection, Method.QueueBind);
        var exchange = Host.GetExchange(exchangeName, Method.QueueBind);
        AuthorizeBind(exchange, routingKey);
        var durable = Host.BindAsync(queue, exchange, routingKey, arguments);
        if (!noWait)
        {
            // A durable binding is acknowledged once stored.
            _connection.AddWait(durable);
            Out.Method0(Number, Method.QueueBindOk);
        }
        else
        {
            durable.Forget();
        }
    }

    private void QueueUnbind(ref AmqpReader reader)
    {
        reader.ReadShort();
        var givenName = reader.ReadShortString();
        var queueName = QueueName(givenName, Method.QueueUnbind);
        var exchangeName = reader.ReadShortString();
        var routingKey = DefaultRoutingKey(givenName, reader.ReadShortString(), queueName);
        var arguments = reader.ReadTable();

        var queue = Host.GetQueue(queueName, _connection, Method.QueueUnbind);
        var exchange = Host.GetExchange(exchangeName, Method.QueueUnbind);
        Host.Unbind(queue, exchange, routingKey, arguments);
        Out.Method0(Number, Method.QueueUnbindOk);
    }

    private void QueuePurge(ref AmqpReader reader)
    {
        reader.ReadShort();
        var queue = Host.GetQueue(QueueName(reader.ReadShortString(), Method.QueuePurge), _connection, Method.QueuePurge);
        var noWait = reader.ReadBit();

        var count = queue.Purge();
        if (!noWait)
        {
            Out.BeginMethod(Number, Method.QueuePurgeOk);
            Out.WriteLong(count);
            Out.EndFrame();
        }
    }

    private void QueueDelete(ref AmqpReader reader)
    {
        reader.ReadShort();
        var name = QueueName(reader.ReadShortString(), Method.QueueDelete);
        var ifUnused = reader.ReadBit();
        var ifEmpty = reader.ReadBit();
        var noWait = reader.ReadBit();

        uint count = 0;
        if (Host.TryGetQueue(name, out var queue) && !queue!.Deleted)
        {
            var owned = Host.GetQueue(name, _connection, Method.QueueDelete);
            count = Host.DeleteQueue(owned, ifUnused, ifEmpty);
        }

        // Deleting a queue that is not there succeeds with 0 messages (RabbitMQ's behaviour).
        if (!noWait)
        {
            Out.BeginMethod(Number, Method.QueueDeleteOk);
            Out.WriteLong(count);
            Out.EndFrame();
        }
    }
}
