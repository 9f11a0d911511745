using Cicada.Amqp.Protocol;
using Cicada.Amqp.Routing;
using Cicada.Core;

namespace Cicada.Amqp;

/// <summary>basic.* and confirm.* (§basic, RabbitMQ's publisher confirms).</summary>
internal sealed partial class AmqpChannel
{
    private PendingPublish? _publish;
    private bool _confirm;
    private ulong _publishSeq;
    private int _consumerPrefetch;
    private volatile int _channelPrefetch;

    /// <summary>A basic.publish whose content header and body frames are still arriving (§4.2.6).</summary>
    private sealed class PendingPublish(Exchange exchange, string routingKey, bool mandatory)
    {
        public Exchange Exchange { get; } = exchange;
        public string RoutingKey { get; } = routingKey;
        public bool Mandatory { get; } = mandatory;
        public ContentHeader? Header { get; set; }
        public byte[] Body { get; set; } = [];
        public int Received { get; set; }
    }

    private void BasicPublish(ref AmqpReader reader)
    {
        reader.ReadShort();
        var exchangeName = reader.ReadShortString();
        var routingKey = reader.ReadShortString();
        var mandatory = reader.ReadBit();
        var immediate = reader.ReadBit();

        if (immediate)
        {
            // RabbitMQ dropped immediate in 3.0; so do we.
            Throw.Connection(ReplyCode.NotImplemented, "immediate=true is not implemented", Method.BasicPublish);
        }

        var exchange = Host.GetExchange(exchangeName, Method.BasicPublish);
        if (exchange.Internal)
        {
            Throw.Channel(ReplyCode.AccessRefused, $"cannot publish to internal exchange '{exchangeName}'", Method.BasicPublish);
        }

        AuthorizePublish(exchange, routingKey);

        if (_connection.PublishBucket is { } bucket
            && !_connection.Edge.Limiter!.AllowsPublish(bucket, "amqp", _connection.Identity.ClientId, _connection.Remote))
        {
            // RabbitMQ answers publish pressure with flow control (connection.blocked), which a
            // publisher cannot tell from a memory alarm and which stalls every channel. A channel
            // error is what pika and RabbitMQ.Client surface as an exception naming the cause
            // (§1.2 precondition-failed, a soft error: the connection and its other channels live
            // on, and the client may open a new channel and retry later). The content frames
            // that follow are discarded with the closing channel.
            Throw.Channel(ReplyCode.PreconditionFailed,
                $"publish rate too high (Limits:MaxPublishesPerSecond {_connection.Edge.Limiter.Options.MaxPublishesPerSecond}/s)", Method.BasicPublish);
        }

        _publish = new PendingPublish(exchange, routingKey, mandatory);
    }

    public void HandleContentFrame(byte type, ReadOnlySpan<byte> payload)
    {
        if (_closing)
        {
            return; // content of a method that failed: discarded with the channel
        }

        var publish = _publish ?? Throw.Connection<PendingPublish>(ReplyCode.UnexpectedFrame, $"content frame without basic.publish on channel {Number}");
        if (type == FrameType.Header)
        {
            if (publish.Header is not null)
            {
                Throw.Connection(ReplyCode.UnexpectedFrame, "second content header for one message");
            }

            var header = ContentHeader.Read(payload);
            if (header.Class != ClassId.Basic)
            {
                Throw.Connection(ReplyCode.FrameError, $"content header of class {header.Class}, not basic");
            }

            if (header.BodySize > (ulong)_connection.Edge.Options.MaxMessageSize)
            {
                _connection.Edge.Limiter?.Refused("message-size", "amqp", _connection.Remote, $"message of {header.BodySize} bytes (Amqp:MaxMessageSize)");
                _publish = null;
                _closing = false;
                Throw.Channel(ReplyCode.PreconditionFailed,
                    $"message size {header.BodySize} is larger than the configured maximum {_connection.Edge.Options.MaxMessageSize}", Method.BasicPublish);
            }

            publish.Header = header;
            publish.Body = header.BodySize == 0 ? [] : new byte[header.BodySize];
        }
        else
        {
            if (publish.Header is null)
            {
                Throw.Connection(ReplyCode.UnexpectedFrame, "body frame before the content header");
            }

            if (publish.Received + payload.Length > publish.Body.Length)
            {
                Throw.Connection(ReplyCode.FrameError, "body frames longer than the header's body size");
            }

            payload.CopyTo(publish.Body.AsSpan(publish.Received));
            publish.Received += payload.Length;
        }

        if (publish.Received == publish.Body.Length)
        {
            _publish = null;
            Route(publish);
        }
    }

    private void Route(PendingPublish publish)
    {
        CheckExpiration(publish.Header!.Value.Properties);
        if (_tx)
        {
            // §tx: a transactional channel's publishes take effect at tx.commit.
            (_txPublishes ??= []).Add(publish);
            return;
        }

        var durable = RouteNow(publish);
        _connection.Edge.Watch(durable);
        if (_confirm)
        {
            _connection.AddConfirm(Number, ++_publishSeq, durable);
        }
    }

    /// <summary>Routes a complete message; basic.return goes out now if it is mandatory and unroutable. The task completes when it is durable.</summary>
    private Task RouteNow(PendingPublish publish)
    {
        var header = publish.Header!.Value;
        var durable = Host.PublishAsync(publish.Exchange, publish.RoutingKey, header.Properties, header.RawProperties, publish.Body,
            origin: null, out var routed, out var backpressure);
        if (backpressure is not null)
        {
            _connection.PaceBy(backpressure);
        }

        if (!routed && publish.Mandatory)
        {
            // §basic.publish mandatory: an unroutable message comes back with basic.return (312), before its confirm.
            Out.BeginMethod(Number, Method.BasicReturn);
            Out.WriteShort(ReplyCode.NoRoute);
            Out.WriteShortString("NO_ROUTE");
            Out.WriteShortString(publish.Exchange.Name);
            Out.WriteShortString(publish.RoutingKey);
            Out.EndFrame();
            _connection.WriteContent(Out, Number, publish.Body, header.RawProperties);
        }

        return durable;
    }

    private void ConfirmSelect(ref AmqpReader reader)
    {
        var noWait = reader.ReadBit();
        if (_tx)
        {
            // RabbitMQ: a channel is transactional or in confirm mode, never both.
            Throw.Channel(ReplyCode.PreconditionFailed, "cannot switch from tx to confirm mode", Method.ConfirmSelect);
        }

        _confirm = true;
        if (!noWait)
        {
            Out.Method0(Number, Method.ConfirmSelectOk);
        }
    }

    private void BasicQos(ref AmqpReader reader)
    {
        var prefetchSize = reader.ReadLong();
        var prefetchCount = reader.ReadShort();
        var global = reader.ReadBit();
        if (prefetchSize != 0)
        {
            // RabbitMQ does not implement prefetch-size either.
            Throw.Connection(ReplyCode.NotImplemented, "prefetch_size != 0 is not implemented", Method.BasicQos);
        }

        // RabbitMQ's meaning: global=false limits each new consumer, global=true the whole channel.
        if (global)
        {
            _channelPrefetch = prefetchCount;
        }
        else
        {
            _consumerPrefetch = prefetchCount;
        }

        Out.Method0(Number, Method.BasicQosOk);
        _connection.AfterFlush(WakeQueues);
    }

    private void BasicConsume(ref AmqpReader reader)
    {
        reader.ReadShort();
        var queueName = QueueName(reader.ReadShortString(), Method.BasicConsume);
        var tag = reader.ReadShortString();
        reader.ReadBit(); // no-local: RabbitMQ ignores it too
        var noAck = reader.ReadBit();
        var exclusive = reader.ReadBit();
        var noWait = reader.ReadBit();
        reader.ReadTable();

        var queue = Host.GetQueue(queueName, _connection, Method.BasicConsume);
        AuthorizeRead(queue, Method.BasicConsume);
        if (tag.Length == 0)
        {
            tag = "amq.ctag-" + Guid.NewGuid().ToString("N");
        }

        Consumer consumer;
        lock (_lock)
        {
            if (_consumers.ContainsKey(tag))
            {
                // §basic.consume consumer-tag: a tag in use on the channel is a hard error (530).
                Throw.Connection(ReplyCode.NotAllowed, $"attempt to reuse consumer tag '{tag}'", Method.BasicConsume);
            }

            if (queue.HasExclusiveConsumer || (exclusive && queue.ConsumerCount > 0))
            {
                Throw.Channel(ReplyCode.AccessRefused, $"queue '{queue.Name}' in vhost '/' in exclusive use", Method.BasicConsume);
            }

            consumer = new Consumer(this, queue, tag, noAck, exclusive, _consumerPrefetch);
            _consumers[tag] = consumer;
        }

        if (!noWait)
        {
            Out.BeginMethod(Number, Method.BasicConsumeOk);
            Out.WriteShortString(tag);
            Out.EndFrame();
        }

        // Deliveries start after consume-ok is on the wire (§basic.consume-ok precedes basic.deliver).
        _connection.AfterFlush(() => queue.AddConsumer(consumer));
    }

    private void BasicCancel(ref AmqpReader reader)
    {
        var tag = reader.ReadShortString();
        var noWait = reader.ReadBit();

        Consumer? consumer;
        lock (_lock)
        {
            _consumers.Remove(tag, out consumer);
        }

        if (consumer is not null)
        {
            RemoveConsumer(consumer);
        }

        if (!noWait)
        {
            Out.BeginMethod(Number, Method.BasicCancelOk);
            Out.WriteShortString(tag);
            Out.EndFrame();
        }
    }

    private void BasicGet(ref AmqpReader reader)
    {
        reader.ReadShort();
        var queue = Host.GetQueue(QueueName(reader.ReadShortString(), Method.BasicGet), _connection, Method.BasicGet);
        var noAck = reader.ReadBit();
        AuthorizeRead(queue, Method.BasicGet);

        if (!queue.TryTake(out var message))
        {
            Out.BeginMethod(Number, Method.BasicGetEmpty);
            Out.WriteShortString(string.Empty); // reserved-1
            Out.EndFrame();
            return;
        }

        ulong tag;
        lock (_lock)
        {
            tag = ++_deliveryTag;
            if (!noAck)
            {
                _unacked[tag] = new Unacked(queue, null, message);
            }
        }

        var (exchange, routingKey) = MessageAddress.Decode(message.Message.Topic);
        Out.BeginMethod(Number, Method.BasicGetOk);
        Out.WriteLongLong(tag);
        Out.WriteBit(message.Redelivered);
        Out.WriteShortString(AmqpConnection.Truncate(exchange));
        Out.WriteShortString(AmqpConnection.Truncate(routingKey));
        Out.WriteLong(queue.MessageCount);
        Out.EndFrame();
        _connection.WriteContent(Out, Number, message);
        _connection.Edge.Broker.Metrics.MessagesSent.Add(1);
        if (noAck)
        {
            queue.Complete(message);
        }
    }

    /// <summary>
    /// basic.ack (requeue null), basic.nack and basic.reject. <paramref name="multiple"/> settles
    /// every outstanding tag up to <paramref name="tag"/> (tag 0 with multiple: all). An unknown tag is
    /// a channel error 406 (§basic.ack delivery-tag).
    /// </summary>
    private void Settle(ulong tag, bool multiple, bool? requeue, uint method)
    {
        var settled = new List<KeyValuePair<ulong, Unacked>>();
        lock (_lock)
        {
            if (multiple)
            {
                foreach (var entry in _unacked)
                {
                    if (tag != 0 && entry.Key > tag)
                    {
                        break;
                    }

                    settled.Add(entry);
                }

                foreach (var entry in settled)
                {
                    _unacked.Remove(entry.Key);
                }
            }
            else if (_unacked.Remove(tag, out var one))
            {
                settled.Add(new(tag, one));
            }
        }

        if (settled.Count == 0 && (!multiple || tag > _deliveryTag))
        {
            Throw.Channel(ReplyCode.PreconditionFailed, $"unknown delivery tag {tag}", method);
        }

        if (_tx)
        {
            // §tx: acknowledgements on a transactional channel take effect at tx.commit.
            (_txSettles ??= []).Add((settled, requeue == true));
            return;
        }

        Finish(settled.ConvertAll(e => e.Value), requeue == true);
    }

    private void Finish(List<Unacked> settled, bool requeue)
    {
        foreach (var u in settled)
        {
            u.Consumer?.Release();
        }

        if (requeue)
        {
            foreach (var group in settled.GroupBy(u => u.Queue))
            {
                group.Key.Requeue(group.Select(u => u.Message));
            }
        }
        else
        {
            foreach (var u in settled)
            {
                u.Queue.Complete(u.Message);
            }

            foreach (var queue in settled.Select(u => u.Queue).Distinct())
            {
                queue.OnDeliveriesPending();
            }
        }
    }

    /// <summary>Every unacknowledged message goes back to its queue, redelivered (§basic.recover, channel close).</summary>
    private void RequeueAll()
    {
        List<Unacked> all;
        lock (_lock)
        {
            all = [.. _unacked.Values];
            _unacked.Clear();
        }

        Finish(all, requeue: true);
    }
}
