using System.Net.Sockets;
using System.Threading.Channels;

namespace Cicada.Testing;

/// <summary>
/// An MQTT client made of a socket and hand-built bytes, for the rules real client libraries refuse
/// to break. A background loop frames incoming bytes into <see cref="MqttPacket"/>s (fixed header +
/// §2.2.3 remaining length) and completes its channel when the broker closes the connection, so a
/// test can wait for either a packet or the close without racing the reader.
/// </summary>
public sealed class RawMqttClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly Channel<MqttPacket> _incoming = Channel.CreateUnbounded<MqttPacket>();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _readLoop;
    private readonly Queue<MqttPacket> _stash = new();
    private ushort _nextPacketId;

    private RawMqttClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _readLoop = Task.Run(ReadLoopAsync);
    }

    public static async Task<RawMqttClient> OpenAsync(int port)
    {
        var tcp = new TcpClient { NoDelay = true };
        using var timeout = new CancellationTokenSource(Timeouts.Connect);
        await tcp.ConnectAsync("127.0.0.1", port, timeout.Token);
        return new RawMqttClient(tcp);
    }

    /// <summary>Opens a socket, sends CONNECT and returns the CONNACK (whatever its return code).</summary>
    public static async Task<(RawMqttClient Client, MqttPacket ConnAck)> ConnectAsync(int port, ConnectOptions options)
    {
        var client = await OpenAsync(port);
        try
        {
            await client.SendAsync(MqttPackets.Connect(options));
            var connAck = await client.ReadPacketAsync();
            Assert.Equal(PacketType.ConnAck, connAck.Type);
            return (client, connAck);
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>Connects and asserts CONNACK return code 0 (§3.2.2.3 "Connection Accepted").</summary>
    public static async Task<RawMqttClient> ConnectAcceptedAsync(int port, ConnectOptions options)
    {
        var (client, connAck) = await ConnectAsync(port, options);
        Assert.Equal(0, connAck.ReturnCode);
        return client;
    }

    public static Task<RawMqttClient> ConnectAcceptedAsync(int port, string clientId, MqttVersion version = MqttVersion.V311)
        => ConnectAcceptedAsync(port, new ConnectOptions { ClientId = clientId, Version = version });

    public ushort NextPacketId()
    {
        _nextPacketId = (ushort)(_nextPacketId == ushort.MaxValue ? 1 : _nextPacketId + 1);
        return _nextPacketId;
    }

    public async Task SendAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>
    /// Sends bytes the broker may legitimately refuse halfway (it may close the connection before the
    /// last byte arrives); a failed write is then part of the expected outcome, not an error.
    /// </summary>
    public async Task SendIgnoringErrorsAsync(byte[] bytes)
    {
        try
        {
            await SendAsync(bytes);
        }
        catch (IOException)
        {
        }
        catch (SocketException)
        {
        }
    }

    /// <summary>The next packet; fails if none arrives within the timeout or the connection closes.</summary>
    public async Task<MqttPacket> ReadPacketAsync(TimeSpan? timeout = null)
    {
        var packet = await TryReadPacketAsync(timeout ?? Timeouts.Packet);
        return packet ?? throw new TimeoutException($"No packet from the broker within {timeout ?? Timeouts.Packet}.");
    }

    /// <summary>The next packet, or null if none arrives within the timeout. Fails if the connection closes.</summary>
    public async Task<MqttPacket?> TryReadPacketAsync(TimeSpan timeout)
    {
        if (_stash.Count > 0)
        {
            return _stash.Dequeue();
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            if (await _incoming.Reader.WaitToReadAsync(cts.Token) && _incoming.Reader.TryRead(out var packet))
            {
                return packet;
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            return null;
        }

        throw new IOException("The broker closed the connection while a packet was expected.");
    }

    public async Task<MqttPacket> ReadPacketAsync(PacketType expected, TimeSpan? timeout = null)
    {
        var packet = await ReadPacketAsync(timeout);
        Assert.True(packet.Type == expected, $"Expected {expected} but received {packet}.");
        return packet;
    }

    /// <summary>
    /// Reads until a packet of <paramref name="expected"/> type arrives, setting aside the others
    /// (later reads return them first, in order). Acknowledgements and deliveries legitimately
    /// interleave: a broker may forward a QoS 1 message to a subscriber on the same connection
    /// before it sends the publisher its PUBACK.
    /// </summary>
    public async Task<MqttPacket> ReadPacketSkippingAsync(PacketType expected, TimeSpan? timeout = null)
    {
        MqttPacket? found = null;
        for (var remaining = _stash.Count; remaining > 0; remaining--)
        {
            var packet = _stash.Dequeue();
            if (found is null && packet.Type == expected)
            {
                found = packet;
            }
            else
            {
                _stash.Enqueue(packet);
            }
        }

        if (found is not null)
        {
            return found;
        }

        using var cts = new CancellationTokenSource(timeout ?? Timeouts.Packet);
        while (true)
        {
            var packet = await ReadFromWireAsync(cts.Token);
            if (packet.Type == expected)
            {
                return packet;
            }

            _stash.Enqueue(packet);
        }
    }

    private async Task<MqttPacket> ReadFromWireAsync(CancellationToken timeout)
    {
        try
        {
            return await _incoming.Reader.ReadAsync(timeout);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException("The expected packet did not arrive in time.");
        }
        catch (ChannelClosedException)
        {
            throw new IOException("The broker closed the connection while a packet was expected.");
        }
    }

    /// <summary>
    /// Waits until the broker closes the connection and returns the packets it sent first. Fails if
    /// the connection is still open after the timeout.
    /// </summary>
    public async Task<IReadOnlyList<MqttPacket>> ExpectClosedAsync(TimeSpan? timeout = null)
    {
        var limit = timeout ?? Timeouts.Close;
        var received = new List<MqttPacket>(_stash);
        _stash.Clear();
        using var cts = new CancellationTokenSource(limit);
        try
        {
            while (await _incoming.Reader.WaitToReadAsync(cts.Token))
            {
                while (_incoming.Reader.TryRead(out var packet))
                {
                    received.Add(packet);
                }
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Assert.Fail($"The broker did not close the connection within {limit}; it sent [{string.Join(", ", received)}].");
        }

        return received;
    }

    /// <summary>Asserts that the connection is open and served, by a PINGREQ/PINGRESP round trip (§3.12).</summary>
    public async Task AssertOpenAsync()
    {
        await SendAsync(MqttPackets.PingReq());
        var packet = await ReadPacketAsync();
        Assert.Equal(PacketType.PingResp, packet.Type);
    }

    public async Task<MqttPacket> SubscribeAsync(params (string Filter, int QoS)[] filters)
    {
        var id = NextPacketId();
        await SendAsync(MqttPackets.Subscribe(id, filters));
        var subAck = await ReadPacketSkippingAsync(PacketType.SubAck);
        Assert.Equal(id, subAck.PacketId);
        return subAck;
    }

    public Task<MqttPacket> SubscribeAsync(string filter, int qos = 0) => SubscribeAsync((filter, qos));

    public async Task UnsubscribeAsync(params string[] filters)
    {
        var id = NextPacketId();
        await SendAsync(MqttPackets.Unsubscribe(id, filters));
        var unsubAck = await ReadPacketSkippingAsync(PacketType.UnsubAck);
        Assert.Equal(id, unsubAck.PacketId);
    }

    /// <summary>Publishes and completes the QoS flow (PUBACK, or PUBREC/PUBREL/PUBCOMP), checking packet ids.</summary>
    public async Task PublishAsync(string topic, string payload, int qos = 0, bool retain = false)
    {
        var id = qos > 0 ? NextPacketId() : (ushort)0;
        await SendAsync(MqttPackets.Publish(topic, payload, qos, id, retain));
        if (qos == 1)
        {
            var pubAck = await ReadPacketSkippingAsync(PacketType.PubAck);
            Assert.Equal(id, pubAck.PacketId);
        }
        else if (qos == 2)
        {
            var pubRec = await ReadPacketSkippingAsync(PacketType.PubRec);
            Assert.Equal(id, pubRec.PacketId);
            await SendAsync(MqttPackets.PubRel(id));
            var pubComp = await ReadPacketSkippingAsync(PacketType.PubComp);
            Assert.Equal(id, pubComp.PacketId);
        }
    }

    /// <summary>Reads the next packet and asserts it is a PUBLISH (acknowledging nothing).</summary>
    public Task<MqttPacket> ReadPublishAsync(TimeSpan? timeout = null) => ReadPacketAsync(PacketType.Publish, timeout);

    /// <summary>Reads the next PUBLISH and completes the receiver side of its QoS flow.</summary>
    public async Task<MqttPacket> ReceivePublishAsync(TimeSpan? timeout = null)
    {
        var publish = await ReadPublishAsync(timeout);
        if (publish.QoS == 1)
        {
            await SendAsync(MqttPackets.PubAck(publish.PacketId));
        }
        else if (publish.QoS == 2)
        {
            await SendAsync(MqttPackets.PubRec(publish.PacketId));
            var pubRel = await ReadPacketSkippingAsync(PacketType.PubRel);
            Assert.Equal(0x62, pubRel.Header); // MQTT-3.6.1-1
            Assert.Equal(publish.PacketId, pubRel.PacketId);
            await SendAsync(MqttPackets.PubComp(publish.PacketId));
        }

        return publish;
    }

    /// <summary>
    /// Receives (and acknowledges) PUBLISH packets until one arrives on <paramref name="sentinelTopic"/>;
    /// returns those before it. Ordered delivery (MQTT-4.6.0-6) means that anything the broker was
    /// going to send before the sentinel has arrived by then, which lets negative tests avoid sleeps.
    /// </summary>
    public async Task<List<MqttPacket>> ReceiveUntilAsync(string sentinelTopic, TimeSpan? timeout = null)
    {
        var before = new List<MqttPacket>();
        while (true)
        {
            var publish = await ReceivePublishAsync(timeout);
            if (publish.Topic == sentinelTopic)
            {
                return before;
            }

            before.Add(publish);
        }
    }

    /// <summary>Sends DISCONNECT (§3.14) and closes the socket.</summary>
    public async Task DisconnectAsync()
    {
        await SendIgnoringErrorsAsync(MqttPackets.Disconnect());
        Close();
    }

    /// <summary>
    /// Sends DISCONNECT and waits for the broker to close the connection (MQTT-3.14.4-1), which
    /// proves the broker has finished with this connection before the test goes on.
    /// </summary>
    public async Task DisconnectAndWaitForCloseAsync()
    {
        await SendAsync(MqttPackets.Disconnect());
        var packets = await ExpectClosedAsync();
        Assert.True(packets.Count == 0 || packets.All(p => p.Type == PacketType.Publish), $"Unexpected packets after DISCONNECT: {string.Join(", ", packets)}");
    }

    /// <summary>Drops the connection without DISCONNECT (an "abnormal" close in the sense of §3.1.2.5).</summary>
    public void Abort()
    {
        try
        {
            _tcp.Client.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        Close();
    }

    public async ValueTask DisposeAsync()
    {
        Close();
        try
        {
            await _readLoop.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
        }

        _stop.Dispose();
    }

    private void Close()
    {
        if (!_stop.IsCancellationRequested)
        {
            _stop.Cancel();
        }

        _tcp.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            var header = new byte[1];
            var lengthByte = new byte[1];
            while (true)
            {
                if (!await ReadExactlyOrEofAsync(header))
                {
                    return;
                }

                var length = 0;
                var multiplier = 1;
                for (var i = 0; ; i++)
                {
                    if (i == 4 || !await ReadExactlyOrEofAsync(lengthByte))
                    {
                        // A broker must never send a five-byte remaining length (§2.2.3); treat it as a close.
                        return;
                    }

                    length += (lengthByte[0] & 0x7F) * multiplier;
                    multiplier *= 128;
                    if ((lengthByte[0] & 0x80) == 0)
                    {
                        break;
                    }
                }

                var body = new byte[length];
                if (!await ReadExactlyOrEofAsync(body))
                {
                    return;
                }

                await _incoming.Writer.WriteAsync(new MqttPacket(header[0], body));
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection is gone: that is exactly what ExpectClosedAsync waits for.
        }
        finally
        {
            _incoming.Writer.TryComplete();
        }
    }

    private async Task<bool> ReadExactlyOrEofAsync(Memory<byte> buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await _stream.ReadAsync(buffer[read..], _stop.Token);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }
}
