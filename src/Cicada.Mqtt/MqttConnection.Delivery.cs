using Cicada.Core;
using Cicada.Core.Sessions;
using Cicada.Core.Storage;
using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Mqtt;

/// <summary>Outbound side: the session's queue is drained into the pipe by a scheduled work item, not a task per connection.</summary>
internal sealed partial class MqttConnection : IThreadPoolWorkItem
{
    private const int MaxPerFlush = 256;

    private static readonly Func<Message, int, EncodedPublish> Encode =
        static (m, variant) => MqttEncoder.EncodePublish(m, (QoS)(variant >> 1), (variant & 1) != 0, dup: false);

    [ThreadStatic]
    private static PropertyCodec.Builder? _encodeProps;

    private static readonly Func<Message, int, EncodedPublish> EncodeV5 =
        static (m, variant) => MqttV5Encoder.EncodePublish(m, (QoS)(variant >> 1), (variant & 1) != 0, dup: false,
            _encodeProps ??= new PropertyCodec.Builder(), null, 0, null, 0, omitTopic: false);

    /// <summary>Encoding-cache slots: 6 for 3.1/3.1.1 by (QoS, retain), then 6 for MQTT 5.</summary>
    private static readonly int V3Slots = Message.ReserveEncodingSlots(12);

    private static readonly int V5Slots = V3Slots + 6;

    private DrainSignal _drain;
    private bool _connAckSent;

    public void OnDeliveriesPending()
    {
        if (_drain.Request())
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    void IThreadPoolWorkItem.Execute() => _ = DrainAsync();

    private async Task DrainAsync()
    {
        try
        {
            while (true)
            {
                _drain.BeginPass();
                var full = await DrainOnceAsync();
                if (!full && _drain.TryEnd())
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The output has completed: the connection is closing and its read loop cleans up.
            _drain.Reset();
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

            // MQTT 5 §3.3.4: never more unacknowledged QoS 1/2 sends than the client's Receive Maximum.
            var maxInflight = Math.Min(_edge.Broker.Options.MaxInflight, (int)_clientReceiveMaximum);
            var now = _edge.Broker.Time.GetUtcNow();
            while (written < MaxPerFlush && session.TryTakeNext(maxInflight, now, out var delivery, out var id))
            {
                if (WriteDelivery(delivery, (ushort)id, dup: false, now))
                {
                    written++;
                }
                else if (id != 0)
                {
                    session.Complete(id);
                }
            }

            if (written > 0)
            {
                _edge.Broker.Metrics.MessagesSent.Add(written);
                await FlushCountedAsync();
            }
        }
        finally
        {
            _writeLock.Release();
        }

        return written == MaxPerFlush;
    }

    /// <summary>Writes one PUBLISH; false when it was dropped as larger than the client allows (MQTT-3.1.2-25).</summary>
    private bool WriteDelivery(in Delivery delivery, ushort packetId, bool dup, DateTimeOffset now)
    {
        var message = delivery.Message;
        var variant = (int)delivery.Qos << 1 | (delivery.Retain ? 1 : 0);
        EncodedPublish encoded;
        var newAlias = false;
        if (!_v5)
        {
            encoded = dup
                ? MqttEncoder.EncodePublish(message, delivery.Qos, delivery.Retain, dup: true)
                : message.GetOrAddEncoding(V3Slots + variant, variant, Encode);
        }
        else if (!dup && message.ExpiresAt is null && delivery.Via is not { Options.SubscriptionId: not 0 }
            && delivery.MoreSubscriptionIds is null && _clientTopicAliasMaximum == 0)
        {
            // Nothing differs per subscriber: share one encoding.
            encoded = message.GetOrAddEncoding(V5Slots + variant, variant, EncodeV5);
        }
        else
        {
            // MQTT-3.3.2-6: forward the remaining expiry; MQTT-3.3.4-3: this subscription's identifiers.
            uint? remaining = message.ExpiresAt is { } at ? (uint)Math.Max(1, Math.Ceiling((at - now).TotalSeconds)) : null;
            var (alias, omitTopic) = OutboundAlias(message.Topic);
            newAlias = alias != 0 && !omitTopic;
            encoded = MqttV5Encoder.EncodePublish(message, delivery.Qos, delivery.Retain, dup, Props, remaining,
                delivery.Via?.Options.SubscriptionId ?? 0, delivery.MoreSubscriptionIds, alias, omitTopic);
        }

        if ((uint)encoded.Bytes.Length > _clientMaxPacketSize)
        {
            // MQTT-3.1.2-25: larger than the client's Maximum Packet Size: discard as if sent. A topic
            // alias this packet was to announce was never announced: forget it, or the next message
            // on the topic would use an alias the client cannot resolve (§3.3.2.3.4).
            if (newAlias)
            {
                _outboundAliases!.Remove(message.Topic);
            }

            return false;
        }

        MqttEncoder.WritePublish(_output, encoded, packetId);
        return true;
    }

    /// <summary>
    /// MQTT-4.4.0-1: on reconnect to a persistent session, unacknowledged PUBLISH packets go again
    /// with DUP set (MQTT-3.3.1-1) and PUBREL packets again, with their original packet ids.
    /// Called under the write lock, right after CONNACK.
    /// </summary>
    private void ResendInflight()
    {
        var now = _edge.Broker.Time.GetUtcNow();
        foreach (var inflight in _link!.Session.InflightSnapshot())
        {
            if (inflight.State == DeliveryState.Released)
            {
                MqttEncoder.WriteAck(_output, MqttPacketType.PubRel, (ushort)inflight.Id);
            }
            else if (!WriteDelivery(inflight.Delivery, (ushort)inflight.Id, dup: true, now))
            {
                _link.Session.Complete(inflight.Id);
            }
        }

        OnDeliveriesPending();
    }
}
