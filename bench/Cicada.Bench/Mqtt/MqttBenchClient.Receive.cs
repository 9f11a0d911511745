using System.Buffers.Binary;
using System.Diagnostics;

namespace Cicada.Bench.Mqtt;

internal sealed partial class MqttBenchClient
{
    private byte[] _receiveBuffer;
    private byte[]? _inboundQos2; // per packet id: a QoS 2 PUBLISH received, PUBREL not yet (§4.3.3 method B)
    private long _duplicateQos2;

    /// <summary>QoS 2 PUBLISH packets re-sent by the broker before PUBREL (not delivered twice).</summary>
    public long ResentQos2 => Volatile.Read(ref _duplicateQos2);

    private async Task ReceiveLoopAsync()
    {
        var length = 0;
        try
        {
            while (true)
            {
                if (length == _receiveBuffer.Length)
                {
                    Array.Resize(ref _receiveBuffer, _receiveBuffer.Length * 2);
                }

                var read = await _socket.ReceiveAsync(_receiveBuffer.AsMemory(length));
                if (read == 0)
                {
                    Fail(new IOException("the broker closed the connection"));
                    return;
                }

                length += read;
                var now = Stopwatch.GetTimestamp();
                var consumed = ParsePackets(_receiveBuffer.AsSpan(0, length), now, out var needed);
                length -= consumed;
                if (length > 0)
                {
                    _receiveBuffer.AsSpan(consumed, length).CopyTo(_receiveBuffer);
                }

                if (needed > _receiveBuffer.Length)
                {
                    Array.Resize(ref _receiveBuffer, needed);
                }

                // Acks written while parsing go out in one batch.
                Flush();
            }
        }
        catch (Exception e)
        {
            Fail(e);
        }
    }

    /// <summary>Handles every complete packet in <paramref name="data"/>; returns the bytes consumed.</summary>
    private int ParsePackets(ReadOnlySpan<byte> data, long now, out int needed)
    {
        var offset = 0;
        needed = 0;
        while (offset < data.Length)
        {
            var rest = data[offset..];
            if (!TryReadRemainingLength(rest, out var remaining, out var headerSize))
            {
                break;
            }

            var size = headerSize + remaining;
            if (size > rest.Length)
            {
                needed = size;
                break;
            }

            HandlePacket(rest[0], rest.Slice(headerSize, remaining), now);
            offset += size;
        }

        return offset;
    }

    private static bool TryReadRemainingLength(ReadOnlySpan<byte> data, out int value, out int headerSize)
    {
        // §2.2.3: up to four bytes of 7-bit groups after the first byte.
        value = 0;
        for (var i = 1; i <= 4; i++)
        {
            if (i >= data.Length)
            {
                headerSize = 0;
                return false;
            }

            value |= (data[i] & 0x7F) << (7 * (i - 1));
            if ((data[i] & 0x80) == 0)
            {
                headerSize = i + 1;
                return true;
            }
        }

        throw new MqttViolationException("malformed remaining length");
    }

    private void HandlePacket(byte first, ReadOnlySpan<byte> body, long now)
    {
        switch (first & 0xF0)
        {
            case Packets.Publish:
                HandlePublish(first, body, now);
                break;
            case Packets.PubAck:
                Complete(ReadId(body, "PUBACK"), 1, "PUBACK");
                break;
            case Packets.PubRec:
                HandlePubRec(ReadId(body, "PUBREC"));
                break;
            case Packets.PubRel & 0xF0:
                HandlePubRel(ReadId(body, "PUBREL"));
                break;
            case Packets.PubComp:
                Complete(ReadId(body, "PUBCOMP"), 2, "PUBCOMP");
                break;
            case Packets.ConnAck:
                HandleConnAck(body, now);
                break;
            case Packets.SubAck:
                HandleSubAck(body);
                break;
            case Packets.PingResp:
                break;
            default:
                throw new MqttViolationException($"unexpected packet type 0x{first:X2} from the broker");
        }
    }

    private void HandlePublish(byte first, ReadOnlySpan<byte> body, long now)
    {
        var qos = (first >> 1) & 3;
        if (qos == 3 || body.Length < 2)
        {
            throw new MqttViolationException("malformed PUBLISH");
        }

        var topicLength = BinaryPrimitives.ReadUInt16BigEndian(body);
        var at = 2 + topicLength;
        if (body.Length < at + (qos > 0 ? 2 : 0))
        {
            throw new MqttViolationException("malformed PUBLISH");
        }

        var topic = body.Slice(2, topicLength);
        ushort id = 0;
        if (qos > 0)
        {
            id = BinaryPrimitives.ReadUInt16BigEndian(body[at..]);
            at += 2;
        }

        var deliver = true;
        lock (_sendLock)
        {
            if (qos == 1)
            {
                Packets.WriteAck(Reserve(4), Packets.PubAck, id); // §4.3.2
            }
            else if (qos == 2)
            {
                // §4.3.3: store the id, answer PUBREC, deliver once even if the PUBLISH is re-sent.
                _inboundQos2 ??= new byte[65_536];
                if (_inboundQos2[id] != 0)
                {
                    deliver = false;
                    _duplicateQos2++;
                }

                _inboundQos2[id] = 1;
                Packets.WriteAck(Reserve(4), Packets.PubRec, id);
            }
        }

        if (deliver)
        {
            _sink?.OnPublish(topic, body[at..], now);
        }
    }

    private void HandlePubRec(ushort id)
    {
        var state = _outState;
        if (state is null || Volatile.Read(ref state[id]) != 1)
        {
            throw new MqttViolationException($"PUBREC for packet id {id}, which is not awaiting one");
        }

        Volatile.Write(ref state[id], 2);
        lock (_sendLock)
        {
            Packets.WriteAck(Reserve(4), Packets.PubRel, id); // §4.3.3
        }
    }

    private void HandlePubRel(ushort id)
    {
        if (_inboundQos2 is null || _inboundQos2[id] == 0)
        {
            throw new MqttViolationException($"PUBREL for packet id {id}, which was never received");
        }

        _inboundQos2[id] = 0;
        lock (_sendLock)
        {
            Packets.WriteAck(Reserve(4), Packets.PubComp, id);
        }
    }

    private void HandleConnAck(ReadOnlySpan<byte> body, long now)
    {
        if (body.Length != 2)
        {
            throw new MqttViolationException("malformed CONNACK");
        }

        if (body[1] != 0)
        {
            // Refused: fault now so that ConnectAsync reports why.
            throw new MqttViolationException($"the broker refused the connection: {Packets.DescribeConnAckCode(body[1])}");
        }

        _connAck.TrySetResult(now);
    }

    private void HandleSubAck(ReadOnlySpan<byte> body)
    {
        var waiter = Volatile.Read(ref _subAck) ?? throw new MqttViolationException("SUBACK without SUBSCRIBE");
        if (body.Length < 3)
        {
            throw new MqttViolationException("malformed SUBACK");
        }

        if (body[2] == 0x80)
        {
            waiter.TrySetException(new BenchFailureException($"client {ClientId}: the broker refused the subscription (SUBACK 0x80)"));
            return;
        }

        if (body[2] < _requestedQos)
        {
            // A downgraded subscription would measure another QoS than the one asked for.
            waiter.TrySetException(new BenchFailureException($"client {ClientId}: asked for QoS {_requestedQos}, granted QoS {body[2]}"));
            return;
        }

        waiter.TrySetResult();
    }

    private static ushort ReadId(ReadOnlySpan<byte> body, string packet) =>
        body.Length == 2 ? BinaryPrimitives.ReadUInt16BigEndian(body) : throw new MqttViolationException($"malformed {packet}");
}
