using System.Net.Sockets;

namespace Cicada.Fault.Tests.Infrastructure;

/// <summary>
/// The receiving half of MQTT's QoS 1/2 flows, with state that outlives a connection as a real
/// client's must (MQTT-4.1.0-1). QoS 2 uses the receiver side of §4.3.3: a PUBLISH whose id is
/// awaiting PUBREL is acknowledged again but not delivered again, so any duplicate the application
/// sees is the broker's fault, not the client's.
/// </summary>
public sealed class MqttReceiver
{
    private readonly HashSet<ushort> _awaitingRelease = [];

    public List<string> Delivered { get; } = [];

    /// <summary>Handles one packet; acks that cannot be sent any more (the broker died) are skipped.</summary>
    public async Task HandleAsync(WireClient client, WirePacket packet)
    {
        if (packet.Type == WirePacket.Publish)
        {
            var publish = client.ParsePublish(packet);
            switch (publish.QoS)
            {
                case 0:
                    Delivered.Add(publish.Payload);
                    break;
                case 1:
                    Delivered.Add(publish.Payload);
                    await TrySendAsync(() => client.AckAsync(WirePacket.PubAck, publish.PacketId));
                    break;
                default:
                    if (_awaitingRelease.Add(publish.PacketId))
                    {
                        Delivered.Add(publish.Payload);
                    }

                    await TrySendAsync(() => client.AckAsync(WirePacket.PubRec, publish.PacketId));
                    break;
            }
        }
        else if (packet.Type == WirePacket.PubRel)
        {
            _awaitingRelease.Remove(packet.PacketId);
            await TrySendAsync(() => client.AckAsync(WirePacket.PubComp, packet.PacketId));
        }
    }

    public static async Task<bool> TrySendAsync(Func<Task> send)
    {
        try
        {
            await send();
            return true;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            return false;
        }
    }
}

/// <summary>
/// The sending half of QoS 1/2 with a window of messages in flight, remembering across connections
/// what is unacknowledged (resent with DUP, MQTT-4.4.0-1) and what awaits PUBCOMP (PUBREL resent).
/// Message <c>i</c> uses packet id <c>i + 1</c>, so ids never repeat within a test.
/// </summary>
public sealed class MqttSender(string topic, int qos, IReadOnlyList<string> payloads, int window = 20)
{
    private readonly SortedDictionary<ushort, string> _unacknowledged = [];
    private readonly SortedSet<ushort> _released = [];
    private int _next;

    /// <summary>Messages the broker acknowledged (PUBACK, or PUBREC for QoS 2).</summary>
    public List<string> Acknowledged { get; } = [];

    public bool Done => _next == payloads.Count && _unacknowledged.Count == 0 && _released.Count == 0;

    public int InFlight => _unacknowledged.Count + _released.Count;

    /// <summary>After a reconnect: resends every unacknowledged PUBLISH with DUP and every PUBREL.</summary>
    public async Task ResumeAsync(WireClient client)
    {
        foreach (var (id, payload) in _unacknowledged)
        {
            await client.PublishAsync(topic, payload, qos, id, dup: true);
        }

        foreach (var id in _released)
        {
            await client.AckAsync(WirePacket.PubRel, id);
        }
    }

    /// <summary>
    /// Publishes until everything is complete, or until <paramref name="stopAfterAcks"/> messages are
    /// acknowledged in all, when <paramref name="onStop"/> runs (it kills the broker) and the packets
    /// that had already arrived are still processed. Returns false when the connection ended first.
    /// </summary>
    public async Task<bool> PumpAsync(WireClient client, int stopAfterAcks = int.MaxValue, Func<Task>? onStop = null)
    {
        var stopped = false;
        while (!Done)
        {
            while (!stopped && _next < payloads.Count && InFlight < window)
            {
                var id = (ushort)(_next + 1);
                _unacknowledged[id] = payloads[_next];
                _next++;
                if (!await MqttReceiver.TrySendAsync(() => client.PublishAsync(topic, payloads[id - 1], qos, id)))
                {
                    return false;
                }
            }

            var packet = await client.TryReadAsync(TimeSpan.FromSeconds(15));
            if (packet is null)
            {
                return false;
            }

            switch (packet.Type)
            {
                case WirePacket.PubAck or WirePacket.PubRec when packet.AckReason < 0x80:
                    if (_unacknowledged.Remove(packet.PacketId, out var payload))
                    {
                        Acknowledged.Add(payload);
                        if (packet.Type == WirePacket.PubRec)
                        {
                            _released.Add(packet.PacketId);
                            await MqttReceiver.TrySendAsync(() => client.AckAsync(WirePacket.PubRel, packet.PacketId));
                        }
                    }
                    else if (packet.Type == WirePacket.PubRec)
                    {
                        // A second PUBREC for a released id: answer with PUBREL again (§4.3.3).
                        await MqttReceiver.TrySendAsync(() => client.AckAsync(WirePacket.PubRel, packet.PacketId));
                    }

                    break;
                case WirePacket.PubComp:
                    _released.Remove(packet.PacketId);
                    break;
                case WirePacket.PubAck or WirePacket.PubRec:
                    throw new InvalidOperationException($"The broker refused message {packet.PacketId}: {packet}");
            }

            if (!stopped && Acknowledged.Count >= stopAfterAcks && onStop is not null)
            {
                stopped = true;
                await onStop();
            }
        }

        return true;
    }
}
