using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Cicada.Bench.Tests;

/// <summary>
/// A deliberately bad MQTT broker on loopback, to prove the load generator notices: it can
/// refuse connections, hang up after CONNACK, drop acknowledged messages or deliver them twice.
/// It forwards every PUBLISH to every subscriber at QoS 0, whatever the filter.
/// </summary>
internal sealed class FakeBroker : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<(NetworkStream Stream, Lock Lock)> _subscribers = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    public FakeBroker(int copies = 1, byte connAckCode = 0, bool hangUpAfterConnAck = false)
    {
        Copies = copies;
        ConnAckCode = connAckCode;
        HangUpAfterConnAck = hangUpAfterConnAck;
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    /// <summary>Copies forwarded per PUBLISH: 0 drops everything, 2 duplicates everything.</summary>
    public int Copies { get; }

    public byte ConnAckCode { get; }

    public bool HangUpAfterConnAck { get; }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _acceptLoop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        var writeLock = new Lock();
        try
        {
            while (true)
            {
                var (first, body) = await ReadPacketAsync(stream);
                switch (first >> 4)
                {
                    case 1: // CONNECT
                        Write(stream, writeLock, [0x20, 2, 0, ConnAckCode]);
                        if (ConnAckCode != 0 || HangUpAfterConnAck)
                        {
                            return;
                        }

                        break;
                    case 8: // SUBSCRIBE: grant what was asked
                        lock (_subscribers)
                        {
                            _subscribers.Add((stream, writeLock));
                        }

                        Write(stream, writeLock, [0x90, 3, body[0], body[1], body[^1]]);
                        break;
                    case 3: // PUBLISH
                        await HandlePublishAsync(stream, writeLock, first, body);
                        break;
                    case 6: // PUBREL
                        Write(stream, writeLock, [0x70, 2, body[0], body[1]]);
                        break;
                    case 12: // PINGREQ
                        Write(stream, writeLock, [0xD0, 0]);
                        break;
                    case 14: // DISCONNECT
                        return;
                    default:
                        break;
                }
            }
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or ObjectDisposedException or SocketException)
        {
        }
        finally
        {
            lock (_subscribers)
            {
                _subscribers.RemoveAll(s => s.Stream == stream);
            }
        }
    }

    private Task HandlePublishAsync(NetworkStream stream, Lock writeLock, byte first, byte[] body)
    {
        var qos = (first >> 1) & 3;
        var topicLength = BinaryPrimitives.ReadUInt16BigEndian(body);
        var payloadAt = 2 + topicLength + (qos > 0 ? 2 : 0);
        if (qos > 0)
        {
            var id = body.AsSpan(2 + topicLength, 2).ToArray();
            Write(stream, writeLock, [qos == 1 ? (byte)0x40 : (byte)0x50, 2, id[0], id[1]]);
        }

        // Re-encode at QoS 0: topic and payload, no packet id.
        var forward = new List<byte> { 0x30 };
        var remaining = 2 + topicLength + (body.Length - payloadAt);
        do
        {
            var b = (byte)(remaining & 0x7F);
            remaining >>= 7;
            forward.Add(remaining > 0 ? (byte)(b | 0x80) : b);
        }
        while (remaining > 0);
        forward.AddRange(body.AsSpan(0, 2 + topicLength));
        forward.AddRange(body.AsSpan(payloadAt));
        var packet = forward.ToArray();
        (NetworkStream Stream, Lock Lock)[] targets;
        lock (_subscribers)
        {
            targets = [.. _subscribers];
        }

        foreach (var (target, targetLock) in targets)
        {
            for (var i = 0; i < Copies; i++)
            {
                Write(target, targetLock, packet);
            }
        }

        return Task.CompletedTask;
    }

    private static void Write(NetworkStream stream, Lock writeLock, byte[] packet)
    {
        lock (writeLock)
        {
            stream.Write(packet);
        }
    }

    private static async Task<(byte First, byte[] Body)> ReadPacketAsync(NetworkStream stream)
    {
        var one = new byte[1];
        await stream.ReadExactlyAsync(one);
        var first = one[0];
        int remaining = 0, shift = 0;
        do
        {
            await stream.ReadExactlyAsync(one);
            remaining |= (one[0] & 0x7F) << shift;
            shift += 7;
        }
        while ((one[0] & 0x80) != 0);
        var body = new byte[remaining];
        await stream.ReadExactlyAsync(body);
        return (first, body);
    }
}
