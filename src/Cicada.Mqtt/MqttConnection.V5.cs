using Cicada.Mqtt.Protocol;
using Cicada.Mqtt.Protocol.V5;

namespace Cicada.Mqtt;

/// <summary>MQTT 5 connection state: what the client allowed us, topic aliases, server-side DISCONNECT.</summary>
internal sealed partial class MqttConnection
{
    private PropertyCodec.Builder? _propsBuilder;
    private bool _v5;

    /// <summary>Made on first use: 3.1.1 connections never need it.</summary>
    private PropertyCodec.Builder Props => _propsBuilder ??= new PropertyCodec.Builder();
    private uint _connectExpiry;
    private ushort _clientReceiveMaximum = ushort.MaxValue;
    private uint _clientMaxPacketSize = uint.MaxValue;
    private ushort _clientTopicAliasMaximum;
    private Dictionary<ushort, string>? _inboundAliases;
    private Dictionary<string, ushort>? _outboundAliases;

    /// <summary>
    /// Resolves an inbound Topic Alias (MQTT 5 §3.3.2.3.4): a topic with an alias sets the
    /// mapping, an empty topic uses it. 0 or above our maximum is 0x94; an unknown alias or an
    /// empty topic without one is a Protocol Error.
    /// </summary>
    private string ResolveTopic(string topic, ushort? alias)
    {
        if (alias is not { } a)
        {
            if (topic.Length == 0)
            {
                ThrowHelper.ProtocolError("MQTT 5 §3.3.2.1", "Empty topic without a Topic Alias");
            }

            return topic;
        }

        if (a == 0 || a > _edge.Options.TopicAliasMaximum)
        {
            ThrowHelper.ProtocolError("MQTT 5 §3.3.2.3.4", $"Topic Alias {a} outside 1..{_edge.Options.TopicAliasMaximum}", (byte)ReasonCode.TopicAliasInvalid);
        }

        if (topic.Length > 0)
        {
            (_inboundAliases ??= [])[a] = topic;
            return topic;
        }

        return _inboundAliases is not null && _inboundAliases.TryGetValue(a, out var mapped)
            ? mapped
            : ThrowHelper.ProtocolError<string>("MQTT 5 §3.3.2.3.4", $"Topic Alias {a} was never set");
    }

    /// <summary>
    /// An outbound Topic Alias for <paramref name="topic"/> when the client allows them (MQTT 5
    /// §3.3.2.3.4): the first <see cref="_clientTopicAliasMaximum"/> topics get one; a topic sent
    /// before with its alias goes with an empty topic name.
    /// </summary>
    private (ushort Alias, bool OmitTopic) OutboundAlias(string topic)
    {
        if (_clientTopicAliasMaximum == 0)
        {
            return (0, false);
        }

        _outboundAliases ??= new Dictionary<string, ushort>(StringComparer.Ordinal);
        if (_outboundAliases.TryGetValue(topic, out var alias))
        {
            return (alias, true);
        }

        if (_outboundAliases.Count >= _clientTopicAliasMaximum)
        {
            return (0, false);
        }

        alias = (ushort)(_outboundAliases.Count + 1);
        _outboundAliases[topic] = alias;
        return (alias, false);
    }

    /// <summary>
    /// Ends the connection from the server's side: a v5 client first gets DISCONNECT with the
    /// reason (MQTT 5 §4.13); a 3.1.1 client is just disconnected. Never waits long on a stuck client.
    /// </summary>
    private async Task DisconnectAsync(ReasonCode reason, string logReason)
    {
        _closeReason ??= logReason;
        if (_v5 && _connAckSent)
        {
            try
            {
                if (await _writeLock.WaitAsync(TimeSpan.FromSeconds(1)))
                {
                    try
                    {
                        MqttV5Encoder.WriteDisconnect(_output, reason);
                        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                        await FlushCountedAsync(timeout.Token);
                    }
                    finally
                    {
                        _writeLock.Release();
                    }
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException or OperationCanceledException or ObjectDisposedException)
            {
                // Closing anyway.
            }
        }

        // Ends the read loop, whose clean-up completes the output: the socket closes with FIN after
        // what was written (the DISCONNECT) has gone, where an abort's RST could discard it.
        _input.CancelPendingRead();
    }
}
