using Cicada.Amqp.Protocol;
using Cicada.Amqp.Routing;

namespace Cicada.Amqp;

/// <summary>
/// One channel (§channel): its consumers, unacknowledged deliveries, prefetch, confirm mode and
/// the content being assembled. Methods arrive from the connection's read loop; deliveries from
/// queue dispatchers, so the delivery state is under <see cref="_lock"/>. Families of methods are
/// in partial files (Topology, Basic).
/// </summary>
internal sealed partial class AmqpChannel : IConsumerChannel
{
    private readonly AmqpConnection _connection;
    private readonly Lock _lock = new();
    private readonly SortedDictionary<ulong, Unacked> _unacked = [];
    private readonly Dictionary<string, Consumer> _consumers = new(StringComparer.Ordinal);
    private bool _closing;
    private volatile bool _released;
    private volatile bool _flowActive = true;
    private ulong _deliveryTag;
    private int _channelUnacked;

    /// <summary>A delivery awaiting basic.ack/nack/reject; <see cref="Consumer"/> is null for basic.get.</summary>
    private readonly record struct Unacked(AmqpQueue Queue, Consumer? Consumer, QueuedMessage Message);

    public AmqpChannel(AmqpConnection connection, ushort number)
    {
        _connection = connection;
        Number = number;
    }

    public ushort Number { get; }

    private FrameWriter Out => _connection.Out;

    private VirtualHost Host => _connection.Edge.Host;

    public bool CanDeliver => _flowActive && !_released;

    public bool CancelNotify => _connection.CancelNotify;

    /// <summary>Handles one method; true when the channel is finished and must be forgotten.</summary>
    public bool Handle(uint method, ref AmqpReader reader)
    {
        if (_closing)
        {
            // §channel.close: after sending close, only close-ok (or a crossing close) counts.
            if (method == Method.ChannelCloseOk)
            {
                return true;
            }

            if (method == Method.ChannelClose)
            {
                Out.Method0(Number, Method.ChannelCloseOk);
                return true;
            }

            return false;
        }

        if (_publish is not null)
        {
            // §4.2.6: content frames follow their method with nothing in between on the channel.
            Throw.Connection(ReplyCode.UnexpectedFrame, $"method {Method.Class(method)}.{Method.Id(method)} while expecting content on channel {Number}", method);
        }

        switch (method)
        {
            case Method.ChannelClose:
                Release();
                Out.Method0(Number, Method.ChannelCloseOk);
                return true;
            case Method.ChannelCloseOk:
                return true;
            case Method.ChannelFlow:
                var active = reader.ReadBit();
                _flowActive = active;
                Out.BeginMethod(Number, Method.ChannelFlowOk);
                Out.WriteBit(active);
                Out.EndFrame();
                if (active)
                {
                    _connection.AfterFlush(WakeQueues);
                }

                return false;
            case Method.ChannelFlowOk:
                return false;
            case Method.ExchangeDeclare:
                ExchangeDeclare(ref reader);
                return false;
            case Method.ExchangeDelete:
                ExchangeDelete(ref reader);
                return false;
            case Method.ExchangeBind:
                ExchangeBind(ref reader);
                return false;
            case Method.ExchangeUnbind:
                ExchangeUnbind(ref reader);
                return false;
            case Method.QueueDeclare:
                QueueDeclare(ref reader);
                return false;
            case Method.QueueBind:
                QueueBind(ref reader);
                return false;
            case Method.QueueUnbind:
                QueueUnbind(ref reader);
                return false;
            case Method.QueuePurge:
                QueuePurge(ref reader);
                return false;
            case Method.QueueDelete:
                QueueDelete(ref reader);
                return false;
            case Method.BasicQos:
                BasicQos(ref reader);
                return false;
            case Method.BasicConsume:
                BasicConsume(ref reader);
                return false;
            case Method.BasicCancel:
                BasicCancel(ref reader);
                return false;
            case Method.BasicPublish:
                BasicPublish(ref reader);
                return false;
            case Method.BasicGet:
                BasicGet(ref reader);
                return false;
            case Method.BasicAck:
                var ackTag = reader.ReadLongLong();
                Settle(ackTag, reader.ReadBit(), requeue: null, method);
                return false;
            case Method.BasicNack:
                var nackTag = reader.ReadLongLong();
                var multiple = reader.ReadBit();
                Settle(nackTag, multiple, requeue: reader.ReadBit(), method);
                return false;
            case Method.BasicReject:
                var rejectTag = reader.ReadLongLong();
                Settle(rejectTag, false, requeue: reader.ReadBit(), method);
                return false;
            case Method.BasicRecover or Method.BasicRecoverAsync:
                reader.ReadBit(); // requeue: both ways redeliver, as RabbitMQ does
                RequeueAll();
                if (method == Method.BasicRecover)
                {
                    Out.Method0(Number, Method.BasicRecoverOk);
                }

                return false;
            case Method.ConfirmSelect:
                ConfirmSelect(ref reader);
                return false;
            case Method.TxSelect:
                TxSelect();
                return false;
            case Method.TxCommit:
                TxCommit();
                return false;
            case Method.TxRollback:
                TxRollback();
                return false;
            default:
                return Throw.Connection<bool>(ReplyCode.CommandInvalid, $"unknown method {Method.Class(method)}.{Method.Id(method)}", method);
        }
    }

    /// <summary>A channel exception (§1.2): channel.close with the code; the channel's state is released now.</summary>
    public void Fail(AmqpException ex) => Fail(ex, Out);

    /// <summary>As <see cref="Fail(AmqpException)"/>, writing channel.close to <paramref name="writer"/>.</summary>
    public void Fail(AmqpException ex, FrameWriter writer)
    {
        _publish = null;
        Release();
        _closing = true;
        writer.BeginMethod(Number, Method.ChannelClose);
        writer.WriteShort(ex.Code);
        writer.WriteShortString(AmqpConnection.Truncate(ex.ReplyText));
        writer.WriteShort(Method.Class(ex.FailingMethod));
        writer.WriteShort(Method.Id(ex.FailingMethod));
        writer.EndFrame();
    }

    /// <summary>The channel ends: its consumers are cancelled and its unacknowledged messages requeued (§basic.ack, §channel.close).</summary>
    public void Release()
    {
        if (_released)
        {
            return;
        }

        _released = true;
        DiscardTransaction();
        List<Consumer> consumers;
        lock (_lock)
        {
            consumers = [.. _consumers.Values];
            _consumers.Clear();
        }

        foreach (var consumer in consumers)
        {
            RemoveConsumer(consumer);
        }

        RequeueAll();
    }

    private void RemoveConsumer(Consumer consumer)
    {
        var remaining = consumer.Queue.RemoveConsumer(consumer);
        Host.OnConsumerRemoved(consumer.Queue, remaining);
    }

    private void WakeQueues()
    {
        List<AmqpQueue> queues;
        lock (_lock)
        {
            queues = _consumers.Values.Select(c => c.Queue).Distinct().ToList();
        }

        foreach (var queue in queues)
        {
            queue.OnDeliveriesPending();
        }
    }

    public bool TryReserve()
    {
        var limit = _channelPrefetch;
        if (limit == 0)
        {
            Interlocked.Increment(ref _channelUnacked);
            return true;
        }

        while (true)
        {
            var current = Volatile.Read(ref _channelUnacked);
            if (current >= limit)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _channelUnacked, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    void IConsumerChannel.Release() => Interlocked.Decrement(ref _channelUnacked);

    public ValueTask FlushAsync() => _connection.FlushAsync();

    public async ValueTask<bool> DeliverAsync(Consumer consumer, QueuedMessage message)
    {
        var sent = await _connection.WriteDeliveryAsync(writer =>
        {
            ulong tag;
            lock (_lock)
            {
                if (_released || !_consumers.ContainsKey(consumer.Tag))
                {
                    return false;
                }

                tag = ++_deliveryTag;
                if (!consumer.NoAck)
                {
                    _unacked[tag] = new Unacked(consumer.Queue, consumer, message);
                }
            }

            var (exchange, routingKey) = MessageAddress.Decode(message.Message.Topic);
            writer.BeginMethod(Number, Method.BasicDeliver);
            writer.WriteShortString(consumer.Tag);
            writer.WriteLongLong(tag);
            writer.WriteBit(message.Redelivered);
            writer.WriteShortString(AmqpConnection.Truncate(exchange));
            writer.WriteShortString(AmqpConnection.Truncate(routingKey));
            writer.EndFrame();
            _connection.WriteContent(writer, Number, message);
            return true;
        });

        if (sent)
        {
            _connection.Edge.Broker.Metrics.MessagesSent.Add(1);
            if (consumer.NoAck)
            {
                // §basic.consume no-ack: delivered is done.
                consumer.Queue.Complete(message);
            }
        }

        return sent;
    }

    /// <summary>The queue was deleted: forget the consumer and, when the client wants it, send basic.cancel (RabbitMQ's extension).</summary>
    public void OnConsumerCancelled(Consumer consumer)
    {
        lock (_lock)
        {
            if (!_consumers.Remove(consumer.Tag))
            {
                return;
            }
        }

        if (!CancelNotify || _released)
        {
            return;
        }

        _ = NotifyCancelAsync(consumer.Tag);
    }

    private async Task NotifyCancelAsync(string tag)
    {
        try
        {
            await _connection.WriteDeliveryAsync(writer =>
            {
                writer.BeginMethod(Number, Method.BasicCancel);
                writer.WriteShortString(tag);
                writer.WriteBit(true); // no-wait
                writer.EndFrame();
                return true;
            });
            await _connection.FlushAsync();
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }
}
