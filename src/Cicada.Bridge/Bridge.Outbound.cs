using System.IO.Pipelines;
using Cicada.Core;
using Cicada.Core.Sessions;
using Cicada.Core.Storage;
using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Bridge;

/// <summary>Local → remote: the Core session's deliveries become PUBLISHes to the remote.</summary>
public sealed partial class Bridge
{
    private const int MaxPerFlush = 256;

    private readonly PropertyCodec.Builder _props = new();
    private DrainSignal _drain;

    /// <summary>Set once the remote subscriptions are acknowledged and the in-flight messages re-sent; cleared when the connection ends.</summary>
    private volatile bool _ready;

    // What the remote's CONNACK allows (MQTT 5 §3.2.2.3); MQTT 3.1.1 remotes allow everything.
    private ushort _remoteReceiveMaximum = ushort.MaxValue;
    private QoS _remoteMaxQos = QoS.ExactlyOnce;
    private bool _remoteRetainAvailable = true;
    private uint _remoteMaxPacketSize = uint.MaxValue;
    private ushort _keepAliveSeconds;

    private void ApplyConnAck(MqttProperties? props)
    {
        _remoteReceiveMaximum = props?.ReceiveMaximum ?? ushort.MaxValue;
        _remoteMaxQos = props?.MaximumQos is { } maxQos ? (QoS)maxQos : QoS.ExactlyOnce;
        _remoteRetainAvailable = props?.RetainAvailable != 0;
        _remoteMaxPacketSize = props?.MaximumPacketSize ?? uint.MaxValue;
        // MQTT-3.2.2-21: a Server Keep Alive replaces the one the client asked for.
        _keepAliveSeconds = props?.ServerKeepAlive ?? _settings.KeepAliveSeconds;
    }

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
        catch (Exception ex) when (IsConnectionError(ex))
        {
            // The connection is ending; its read loop reports why. In-flight messages stay in the
            // session and go again on the next connection (MQTT-4.4.0-1).
            _drain.Reset();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Anything else: end the connection, so the next one starts the drain afresh rather
            // than leaving it stuck and the queue growing.
            _drain.Reset();
            BridgeLog.DrainFailed(_logger, _settings.Name, ex.Message);
            _remote?.Abort();
        }
    }

    /// <summary>Writes up to <see cref="MaxPerFlush"/> deliveries and flushes; true when more may be waiting.</summary>
    private async ValueTask<bool> DrainOnceAsync()
    {
        if (_remote is not { } remote || _link is not { } link || !_ready)
        {
            return false;
        }

        var written = 0;
        await remote.WriteLock.WaitAsync();
        try
        {
            if (!_ready || !ReferenceEquals(remote, _remote))
            {
                return false;
            }

            var session = link.Session;
            // MQTT 5 §3.3.4 (MQTT-3.3.4-9): never more unacknowledged QoS 1/2 than the remote's Receive Maximum.
            var maxInflight = Math.Min(_broker.Options.MaxInflight, (int)_remoteReceiveMaximum);
            var now = _broker.Time.GetUtcNow();
            while (written < MaxPerFlush && session.TryTakeNext(maxInflight, now, out var delivery, out var id))
            {
                if (WritePublish(remote.Output, session, delivery, (ushort)id, dup: false, now))
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
                remote.MarkSent();
                _broker.Metrics.MessagesSent.Add(written);
                _metrics.MessagesOut.Add(written, _tag);
                await remote.Output.FlushAsync();
            }
        }
        finally
        {
            remote.WriteLock.Release();
        }

        return written == MaxPerFlush;
    }

    /// <summary>
    /// Once the remote's SUBACK is in (or at once, with no <c>in</c> pattern): re-sends what was in
    /// flight when the last connection ended, then lets the drain run. Before the SUBACK no PUBLISH
    /// is sent, so the SUBSCRIBE's packet id cannot collide with a delivery's (MQTT-2.3.1-2).
    /// </summary>
    private async Task BecomeReadyAsync(RemoteConnection remote, ClientLink link, bool sessionPresent, CancellationToken token)
    {
        var resent = 0;
        await remote.WriteLock.WaitAsync(token);
        try
        {
            var session = link.Session;
            var now = _broker.Time.GetUtcNow();
            var inflightCount = 0;
            foreach (var inflight in session.InflightSnapshot())
            {
                inflightCount++;
                var id = (ushort)inflight.Id;
                if (inflight.State == DeliveryState.Released)
                {
                    if (sessionPresent)
                    {
                        // MQTT-4.4.0-1: re-send the PUBREL of a QoS 2 flow the remote already received.
                        WriteAck(remote.Output, MqttPacketType.PubRel, id, ReasonCode.Success);
                    }
                    else
                    {
                        // The remote received it (PUBREC) and then lost the session: nothing left to do.
                        session.Complete(id);
                    }
                }
                else if (!WritePublish(remote.Output, session, inflight.Delivery, id, dup: sessionPresent, now))
                {
                    session.Complete(id);
                }
            }

            remote.MarkSent();
            await remote.Output.FlushAsync(token);
            _ready = true;
            resent = inflightCount;
        }
        finally
        {
            remote.WriteLock.Release();
        }

        BridgeLog.Ready(_logger, _settings.Name, resent, _settings.Remote,
            _subscribeFilters.Length == 0 ? "nothing" : string.Join(", ", _subscribeFilters.Select(f => f.Filter)));
        OnDeliveriesPending();
    }

    /// <summary>
    /// Writes one delivery as a PUBLISH on its remote topic; false when it is not to be sent (no
    /// pattern carries its topic any more, or it is larger than the remote accepts).
    /// </summary>
    private bool WritePublish(PipeWriter output, Session session, Delivery delivery, ushort id, bool dup, DateTimeOffset now)
    {
        var message = delivery.Message;
        if (!TryMapOut(message.Topic, out var remoteTopic))
        {
            BridgeLog.Skipped(_logger, _settings.Name, message.Topic, "no out pattern carries it");
            return false;
        }

        // MQTT 5 §3.2.2.3.4 / §3.2.2.3.5: not above the remote's Maximum QoS, no retain where unavailable.
        var qos = (QoS)Math.Min((byte)delivery.Qos, (byte)_remoteMaxQos);
        var retain = delivery.Retain && _remoteRetainAvailable;
        var outgoing = new Message(remoteTopic, message.Payload, qos, retain, message.Properties, message.OriginClientId, message.ExpiresAt);
        EncodedPublish encoded;
        if (_settings.V5)
        {
            // MQTT-3.3.2-6: the expiry interval forwarded is what is left of it.
            uint? remaining = message.ExpiresAt is { } at ? (uint)Math.Max(1, Math.Ceiling((at - now).TotalSeconds)) : null;
            encoded = MqttV5Encoder.EncodePublish(outgoing, qos, retain, dup, _props, remaining, 0, null, 0, omitTopic: false);
        }
        else
        {
            encoded = MqttEncoder.EncodePublish(outgoing, qos, retain, dup);
        }

        if ((uint)encoded.Bytes.Length > _remoteMaxPacketSize)
        {
            // MQTT-3.1.2-25 (the server's Maximum Packet Size binds the client too, §3.2.2.3.6).
            BridgeLog.Skipped(_logger, _settings.Name, message.Topic, $"{encoded.Bytes.Length} bytes, more than the remote's Maximum Packet Size");
            return false;
        }

        MqttEncoder.WritePublish(output, encoded, id);
        if (_echo is not null && _settings.Inbound.Any(t => t.TryToLocal(remoteTopic, out _)))
        {
            _echo.Record(remoteTopic, message.Payload.Span);
        }

        if (qos == QoS.AtMostOnce && id != 0)
        {
            // Downgraded by the remote's Maximum QoS: no acknowledgement will come.
            session.Complete(id);
        }

        return true;
    }

    /// <summary>The remote topic of a local one: the first <c>out</c> pattern that carries it, in configuration order.</summary>
    private bool TryMapOut(string localTopic, out string remoteTopic)
    {
        foreach (var topic in _settings.Topics)
        {
            if (topic.IsOut && topic.TryToRemote(localTopic, out remoteTopic))
            {
                return true;
            }
        }

        remoteTopic = "";
        return false;
    }

    private void WriteAck(PipeWriter output, MqttPacketType type, ushort id, ReasonCode reason)
    {
        if (_settings.V5)
        {
            MqttV5Encoder.WriteAck(output, type, id, reason);
        }
        else
        {
            MqttEncoder.WriteAck(output, type, id);
        }
    }
}
