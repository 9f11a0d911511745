using Cicada.Core;
using Cicada.Core.Sessions;
using Cicada.Core.Storage;
using Cicada.Mqtt.Protocol;

namespace Cicada.Mqtt;

/// <summary>Outbound side: the session's queue is drained into the pipe by a scheduled work item, not a task per connection.</summary>
internal sealed partial class MqttConnection : IThreadPoolWorkItem
{
    private const int Idle = 0;
    private const int Draining = 1;
    private const int DrainAgain = 2;
    private const int MaxPerFlush = 256;

    private static readonly Func<Message, int, EncodedPublish> Encode =
        static (m, variant) => MqttEncoder.EncodePublish(m, (QoS)(variant >> 1), (variant & 1) != 0, dup: false);

    private int _drainState;
    private bool _connAckSent;

    public void OnDeliveriesPending()
    {
        while (true)
        {
            var state = Volatile.Read(ref _drainState);
            if (state == Idle)
            {
                if (Interlocked.CompareExchange(ref _drainState, Draining, Idle) == Idle)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                    return;
                }
            }
            else if (state == Draining)
            {
                if (Interlocked.CompareExchange(ref _drainState, DrainAgain, Draining) == Draining)
                {
                    return;
                }
            }
            else
            {
                return;
            }
        }
    }

    void IThreadPoolWorkItem.Execute() => _ = DrainAsync();

    private async Task DrainAsync()
    {
        try
        {
            while (true)
            {
                Volatile.Write(ref _drainState, Draining);
                var full = await DrainOnceAsync();
                if (!full && Interlocked.CompareExchange(ref _drainState, Idle, Draining) == Draining)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The output has completed: the connection is closing and its read loop cleans up.
            Volatile.Write(ref _drainState, Idle);
        }
    }

    /// <summary>Writes up to <see cref="MaxPerFlush"/> deliveries and flushes; true when more may be waiting.</summary>
    private async ValueTask<bool> DrainOnceAsync()
    {
        if (_link is not { } link)
        {
            return false;
        }

        var written = 0;
        await _writeLock.WaitAsync();
        try
        {
            if (!_connAckSent)
            {
                return false;
            }

            var session = link.Session;
            var maxInflight = _edge.Broker.Options.MaxInflight;
            var now = _edge.Broker.Time.GetUtcNow();
            while (written < MaxPerFlush && session.TryTakeNext(maxInflight, now, out var delivery, out var id))
            {
                WriteDelivery(delivery, (ushort)id, dup: false);
                written++;
            }

            if (written > 0)
            {
                _edge.Broker.Metrics.MessagesSent.Add(written);
                await _output.FlushAsync();
            }
        }
        finally
        {
            _writeLock.Release();
        }

        return written == MaxPerFlush;
    }

    private void WriteDelivery(in Delivery delivery, ushort packetId, bool dup)
    {
        var message = delivery.Message;
        var encoded = dup
            ? MqttEncoder.EncodePublish(message, delivery.Qos, delivery.Retain, dup: true)
            : message.GetOrAddEncoding((int)delivery.Qos << 1 | (delivery.Retain ? 1 : 0),
                (int)delivery.Qos << 1 | (delivery.Retain ? 1 : 0), Encode);
        MqttEncoder.WritePublish(_output, encoded, packetId);
    }

    /// <summary>
    /// MQTT-4.4.0-1: on reconnect to a persistent session, unacknowledged PUBLISH packets go again
    /// with DUP set (MQTT-3.3.1-1) and PUBREL packets again, with their original packet ids.
    /// Called under the write lock, right after CONNACK.
    /// </summary>
    private void ResendInflight()
    {
        foreach (var inflight in _link!.Session.InflightSnapshot())
        {
            if (inflight.State == DeliveryState.Released)
            {
                MqttEncoder.WriteAck(_output, MqttPacketType.PubRel, (ushort)inflight.Id);
            }
            else
            {
                WriteDelivery(inflight.Delivery, (ushort)inflight.Id, dup: true);
            }
        }

        OnDeliveriesPending();
    }
}
