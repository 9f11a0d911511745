using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Cicada.Fault.Tests.Infrastructure;

/// <summary>One MQTT control packet as read off the wire: type, fixed-header flags and the rest.</summary>
public sealed record WirePacket(int Type, int Flags, byte[] Body)
{
    public const int ConnAck = 2, Publish = 3, PubAck = 4, PubRec = 5, PubRel = 6, PubComp = 7, SubAck = 9, Disconnect = 14;

    public ushort PacketId => (ushort)((Body[0] << 8) | Body[1]);

    /// <summary>The reason code of a v5 ack (§3.4.2.1: absent means 0x00 Success).</summary>
    public int AckReason => Body.Length > 2 ? Body[2] : 0;

    public override string ToString() => $"type {Type} flags 0x{Flags:X} body {Convert.ToHexString(Body)}";
}

/// <summary>A PUBLISH as a subscriber sees it.</summary>
public sealed record WirePublish(string Topic, string Payload, int QoS, bool Dup, bool Retain, ushort PacketId);

/// <summary>
/// A minimal MQTT 3.1.1 / 5.0 client over a raw socket, so a fault test controls every
/// acknowledgement itself: when a PUBACK/PUBREC/PUBREL/PUBCOMP is sent, and which ids are still
/// in flight when the broker dies. A background loop frames packets (fixed header + §2.2.3
/// remaining length) into a channel that completes when the connection ends.
/// </summary>
public sealed class WireClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly Channel<WirePacket> _incoming = Channel.CreateUnbounded<WirePacket>();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Task _readLoop;

    private WireClient(TcpClient tcp, int version)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        Version = version;
        _readLoop = Task.Run(ReadLoopAsync);
    }

    /// <summary>4 for MQTT 3.1.1, 5 for MQTT 5.0.</summary>
    public int Version { get; }

    public bool SessionPresent { get; private set; }

    public int ConnectCode { get; private set; }

    /// <summary>Completes when the broker closes the connection (or it breaks).</summary>
    public Task Closed => _incoming.Reader.Completion;

    public static async Task<WireClient> ConnectAsync(int port, string clientId, int version = 4, bool clean = true,
        uint sessionExpiry = 0, string? willTopic = null, string willPayload = "", int willQos = 0, ushort keepAlive = 60)
    {
        var tcp = new TcpClient { NoDelay = true };
        using (var timeout = new CancellationTokenSource(Timeouts.Connect))
        {
            await tcp.ConnectAsync("127.0.0.1", port, timeout.Token);
        }

        var client = new WireClient(tcp, version);
        try
        {
            await client.SendAsync(client.BuildConnect(clientId, clean, sessionExpiry, willTopic, willPayload, willQos, keepAlive));
            var connAck = await client.ReadAsync();
            Assert.Equal(WirePacket.ConnAck, connAck.Type);
            client.SessionPresent = (connAck.Body[0] & 1) != 0;
            client.ConnectCode = connAck.Body[1];
            Assert.True(client.ConnectCode == 0, $"CONNACK refused: {connAck}");
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>The bytes of a CONNECT; public so the proxy tests can cut one in half.</summary>
    public byte[] BuildConnect(string clientId, bool clean, uint sessionExpiry, string? willTopic, string willPayload, int willQos, ushort keepAlive)
    {
        var body = new List<byte>();
        AppendString(body, "MQTT");
        body.Add((byte)Version);
        var flags = clean ? 0x02 : 0;
        if (willTopic is not null)
        {
            flags |= 0x04 | (willQos << 3);
        }

        body.Add((byte)flags);
        body.Add((byte)(keepAlive >> 8));
        body.Add((byte)keepAlive);
        if (Version == 5)
        {
            // §3.1.2.11.2 Session Expiry Interval (0x11).
            AppendProperties(body, sessionExpiry == 0 ? [] : [0x11, (byte)(sessionExpiry >> 24), (byte)(sessionExpiry >> 16), (byte)(sessionExpiry >> 8), (byte)sessionExpiry]);
        }

        AppendString(body, clientId);
        if (willTopic is not null)
        {
            if (Version == 5)
            {
                AppendProperties(body, []);
            }

            AppendString(body, willTopic);
            AppendBinary(body, Encoding.UTF8.GetBytes(willPayload));
        }

        return Frame(0x10, body);
    }

    public async Task SubscribeAsync(string filter, int qos, ushort packetId = 1)
    {
        var body = new List<byte> { (byte)(packetId >> 8), (byte)packetId };
        if (Version == 5)
        {
            AppendProperties(body, []);
        }

        AppendString(body, filter);
        body.Add((byte)qos);
        await SendAsync(Frame(0x82, body));
        var subAck = await ReadUntilAsync(WirePacket.SubAck);
        Assert.True(subAck.Body[^1] == qos, $"SUBACK granted {subAck.Body[^1]} instead of QoS {qos}.");
    }

    public Task PublishAsync(string topic, string payload, int qos, ushort packetId = 0, bool retain = false, bool dup = false)
        => SendAsync(BuildPublish(topic, payload, qos, packetId, retain, dup));

    public byte[] BuildPublish(string topic, string payload, int qos, ushort packetId, bool retain = false, bool dup = false)
    {
        var body = new List<byte>();
        AppendString(body, topic);
        if (qos > 0)
        {
            body.Add((byte)(packetId >> 8));
            body.Add((byte)packetId);
        }

        if (Version == 5)
        {
            AppendProperties(body, []);
        }

        body.AddRange(Encoding.UTF8.GetBytes(payload));
        return Frame(0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0), body);
    }

    /// <summary>PUBACK (4), PUBREC (5), PUBREL (6, flags 0x2 per §3.6.1) or PUBCOMP (7).</summary>
    public Task AckAsync(int type, ushort packetId)
        => SendAsync([(byte)((type << 4) | (type == WirePacket.PubRel ? 0x02 : 0)), 2, (byte)(packetId >> 8), (byte)packetId]);

    public Task DisconnectAsync() => SendAsync(Version == 5 ? [0xE0, 1, 0x00] : [0xE0, 0]);

    public WirePublish ParsePublish(WirePacket packet)
    {
        var qos = (packet.Flags >> 1) & 3;
        var topicLength = (packet.Body[0] << 8) | packet.Body[1];
        var topic = Encoding.UTF8.GetString(packet.Body, 2, topicLength);
        var offset = 2 + topicLength;
        ushort id = 0;
        if (qos > 0)
        {
            id = (ushort)((packet.Body[offset] << 8) | packet.Body[offset + 1]);
            offset += 2;
        }

        if (Version == 5)
        {
            var propertiesLength = ReadVarInt(packet.Body, ref offset);
            offset += propertiesLength;
        }

        return new WirePublish(topic, Encoding.UTF8.GetString(packet.Body, offset, packet.Body.Length - offset), qos,
            (packet.Flags & 0x08) != 0, (packet.Flags & 1) != 0, id);
    }

    public async Task SendAsync(byte[] bytes)
    {
        await _writeLock.WaitAsync();
        try
        {
            await _stream.WriteAsync(bytes);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>The next packet; throws <see cref="IOException"/> when the connection closed first.</summary>
    public async Task<WirePacket> ReadAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeouts.Packet);
        try
        {
            return await _incoming.Reader.ReadAsync(cts.Token);
        }
        catch (ChannelClosedException)
        {
            throw new IOException("The broker closed the connection.");
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"No packet within {timeout ?? Timeouts.Packet}.");
        }
    }

    /// <summary>The next packet, or null when the connection is closed or nothing arrives in time.</summary>
    public async Task<WirePacket?> TryReadAsync(TimeSpan timeout)
    {
        try
        {
            return await ReadAsync(timeout);
        }
        catch (Exception ex) when (ex is IOException or TimeoutException)
        {
            return null;
        }
    }

    private async Task<WirePacket> ReadUntilAsync(int type)
    {
        while (true)
        {
            var packet = await ReadAsync();
            if (packet.Type == type)
            {
                return packet;
            }
        }
    }

    /// <summary>Closes the socket with no DISCONNECT: to the broker, a client that vanished.</summary>
    public void Abort()
    {
        try
        {
            _tcp.Client.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
        }

        _tcp.Close();
    }

    public async ValueTask DisposeAsync()
    {
        _tcp.Close();
        await _readLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _writeLock.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        var header = new byte[1];
        try
        {
            while (true)
            {
                if (!await ReadExactlyOrEndAsync(header))
                {
                    break;
                }

                var length = 0;
                var multiplier = 1;
                var one = new byte[1];
                do
                {
                    if (!await ReadExactlyOrEndAsync(one))
                    {
                        return;
                    }

                    length += (one[0] & 0x7F) * multiplier;
                    multiplier *= 128;
                }
                while ((one[0] & 0x80) != 0);

                var body = new byte[length];
                if (!await ReadExactlyOrEndAsync(body))
                {
                    break;
                }

                await _incoming.Writer.WriteAsync(new WirePacket(header[0] >> 4, header[0] & 0x0F, body));
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            _incoming.Writer.TryComplete();
        }
    }

    private async Task<bool> ReadExactlyOrEndAsync(byte[] buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await _stream.ReadAsync(buffer.AsMemory(read));
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }

    private static int ReadVarInt(byte[] buffer, ref int offset)
    {
        int value = 0, multiplier = 1;
        byte b;
        do
        {
            b = buffer[offset++];
            value += (b & 0x7F) * multiplier;
            multiplier *= 128;
        }
        while ((b & 0x80) != 0);
        return value;
    }

    private static byte[] Frame(int firstByte, List<byte> body)
    {
        var packet = new List<byte> { (byte)firstByte };
        AppendVarInt(packet, body.Count);
        packet.AddRange(body);
        return [.. packet];
    }

    private static void AppendVarInt(List<byte> target, int value)
    {
        do
        {
            var b = (byte)(value % 128);
            value /= 128;
            target.Add(value > 0 ? (byte)(b | 0x80) : b);
        }
        while (value > 0);
    }

    private static void AppendProperties(List<byte> target, byte[] properties)
    {
        AppendVarInt(target, properties.Length);
        target.AddRange(properties);
    }

    private static void AppendString(List<byte> target, string value) => AppendBinary(target, Encoding.UTF8.GetBytes(value));

    private static void AppendBinary(List<byte> target, byte[] value)
    {
        target.Add((byte)(value.Length >> 8));
        target.Add((byte)value.Length);
        target.AddRange(value);
    }
}
