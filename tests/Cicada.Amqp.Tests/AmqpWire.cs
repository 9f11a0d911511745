using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Cicada.Amqp.Protocol;

namespace Cicada.Amqp.Tests;

/// <summary>One frame as read from the wire.</summary>
internal readonly record struct WireFrame(byte Type, ushort Channel, byte[] Payload)
{
    public uint Method => Type == FrameType.Method
        ? (uint)BinaryPrimitives.ReadUInt16BigEndian(Payload) << 16 | BinaryPrimitives.ReadUInt16BigEndian(Payload.AsSpan(2))
        : 0;

    /// <summary>The method's arguments (after class and method id).</summary>
    public byte[] Arguments => Payload[4..];

    /// <summary>reply-code of a connection.close / channel.close.</summary>
    public ushort ReplyCode => BinaryPrimitives.ReadUInt16BigEndian(Arguments);

    public string ReplyText => Encoding.UTF8.GetString(Arguments, 3, Arguments[2]);
}

/// <summary>
/// A raw AMQP 0-9-1 client: whole frames written by hand, so a test can break the rules no
/// client library lets one break (methods on closed channels, content out of order, silence
/// after a heartbeat was agreed). Every read has a timeout; nothing here sleeps.
/// </summary>
internal sealed class AmqpWire : IAsyncDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly FrameWriter _out = new();

    private AmqpWire(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    /// <summary>Connects and completes the handshake (PLAIN guest/guest, tune-ok with the given values, open "/").</summary>
    public static async Task<AmqpWire> OpenAsync(int port, ushort heartbeat = 0, uint frameMax = 0, ushort channelMax = 0, string vhost = "/")
    {
        var wire = await ConnectAsync(port);
        var start = await wire.ReadMethodAsync();
        Assert.Equal(Method.ConnectionStart, start.Method);
        wire.Send(0, Method.ConnectionStartOk, w =>
        {
            w.WriteTable(null);
            w.WriteShortString("PLAIN");
            w.WriteLongString("\0guest\0guest"u8);
            w.WriteShortString("en_US");
        });
        await wire.FlushAsync();
        var tune = await wire.ReadMethodAsync();
        Assert.Equal(Method.ConnectionTune, tune.Method);
        wire.Send(0, Method.ConnectionTuneOk, w =>
        {
            w.WriteShort(channelMax);
            w.WriteLong(frameMax);
            w.WriteShort(heartbeat);
        });
        wire.Send(0, Method.ConnectionOpen, w =>
        {
            w.WriteShortString(vhost);
            w.WriteShortString(string.Empty);
            w.WriteBit(false);
        });
        await wire.FlushAsync();
        return wire;
    }

    /// <summary>TCP connect and the protocol header, nothing more.</summary>
    public static async Task<AmqpWire> ConnectAsync(int port)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync("127.0.0.1", port);
        var wire = new AmqpWire(client);
        await wire._stream.WriteAsync(AmqpFrameReader.ProtocolHeader.ToArray());
        return wire;
    }

    /// <summary>Opens with <see cref="OpenAsync"/> and checks connection.open-ok came.</summary>
    public static async Task<AmqpWire> OpenOkAsync(int port, ushort heartbeat = 0, uint frameMax = 0, ushort channelMax = 0)
    {
        var wire = await OpenAsync(port, heartbeat, frameMax, channelMax);
        Assert.Equal(Method.ConnectionOpenOk, (await wire.ReadMethodAsync()).Method);
        return wire;
    }

    public void Send(ushort channel, uint method, Action<FrameWriter>? arguments = null)
    {
        _out.BeginMethod(channel, method);
        arguments?.Invoke(_out);
        _out.EndFrame();
    }

    /// <summary>A content header frame for class basic with no properties.</summary>
    public void SendHeader(ushort channel, ulong bodySize)
    {
        _out.BeginFrame(FrameType.Header, channel);
        _out.WriteShort(ClassId.Basic);
        _out.WriteShort(0); // weight
        _out.WriteLongLong(bodySize);
        _out.WriteShort(0); // property flags
        _out.EndFrame();
    }

    public void SendBody(ushort channel, ReadOnlySpan<byte> body)
    {
        _out.BeginFrame(FrameType.Body, channel);
        _out.WriteBytes(body);
        _out.EndFrame();
    }

    public void SendRawFrame(byte type, ushort channel, ReadOnlySpan<byte> payload)
    {
        _out.BeginFrame(type, channel);
        _out.WriteBytes(payload);
        _out.EndFrame();
    }

    public async Task FlushAsync()
    {
        await _stream.WriteAsync(_out.WrittenMemory);
        _out.Clear();
    }

    /// <summary>channel.open and its open-ok.</summary>
    public async Task OpenChannelAsync(ushort channel)
    {
        Send(channel, Method.ChannelOpen, w => w.WriteShortString(string.Empty));
        await FlushAsync();
        var ok = await ReadMethodAsync();
        Assert.Equal((channel, Method.ChannelOpenOk), (ok.Channel, ok.Method));
    }

    /// <summary>Sends a method, flushes and returns the next method (heartbeats skipped).</summary>
    public async Task<WireFrame> CallAsync(ushort channel, uint method, Action<FrameWriter>? arguments = null)
    {
        Send(channel, method, arguments);
        await FlushAsync();
        return await ReadMethodAsync();
    }

    /// <summary>basic.publish of <paramref name="body"/> with its header and one body frame.</summary>
    public void Publish(ushort channel, string exchange, string routingKey, byte[] body, bool mandatory = false, bool immediate = false)
    {
        Send(channel, Method.BasicPublish, w =>
        {
            w.WriteShort(0);
            w.WriteShortString(exchange);
            w.WriteShortString(routingKey);
            w.WriteBit(mandatory);
            w.WriteBit(immediate);
        });
        SendHeader(channel, (ulong)body.Length);
        if (body.Length > 0)
        {
            SendBody(channel, body);
        }
    }

    /// <summary>queue.declare (exclusive, auto-delete, server-named when empty); returns the queue's name.</summary>
    public async Task<string> DeclareQueueAsync(ushort channel, string name = "", bool exclusive = true, bool durable = false)
    {
        var ok = await CallAsync(channel, Method.QueueDeclare, w =>
        {
            w.WriteShort(0);
            w.WriteShortString(name);
            w.WriteBit(false); // passive
            w.WriteBit(durable);
            w.WriteBit(exclusive);
            w.WriteBit(exclusive); // auto-delete
            w.WriteBit(false); // no-wait
            w.WriteTable(null);
        });
        Assert.Equal(Method.QueueDeclareOk, ok.Method);
        return new AmqpReader(ok.Arguments).ReadShortString();
    }

    /// <summary>The next frame of any type, or null when the server closed the socket.</summary>
    public async Task<WireFrame?> ReadFrameAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? ReadTimeout);
        var header = new byte[7];
        try
        {
            var read = 0;
            while (read < header.Length)
            {
                var n = await _stream.ReadAsync(header.AsMemory(read), cancel.Token);
                if (n == 0)
                {
                    return null;
                }

                read += n;
            }

            var size = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(3));
            var rest = new byte[size + 1];
            await _stream.ReadExactlyAsync(rest, cancel.Token);
            var all = new ReadOnlySequence<byte>([.. header, .. rest]);
            Assert.Equal(FrameStatus.Done, AmqpFrameReader.TryRead(ref all, 1 << 24, out var frame, out _));
            return new WireFrame(frame.Type, frame.Channel, frame.Payload.ToArray());
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException)
        {
            return null;
        }
    }

    /// <summary>The next method frame, skipping heartbeats; fails if the socket closes first.</summary>
    public async Task<WireFrame> ReadMethodAsync()
    {
        while (true)
        {
            var frame = await ReadFrameAsync() ?? throw new IOException("the server closed the connection");
            if (frame.Type == FrameType.Method)
            {
                return frame;
            }

            Assert.Equal(FrameType.Heartbeat, frame.Type);
        }
    }

    /// <summary>Reads until connection.close, answers close-ok and returns the close's frame.</summary>
    public async Task<WireFrame> ExpectConnectionCloseAsync()
    {
        while (true)
        {
            var frame = await ReadMethodAsync();
            if (frame.Channel == 0 && frame.Method == Method.ConnectionClose)
            {
                Send(0, Method.ConnectionCloseOk);
                try
                {
                    await FlushAsync();
                }
                catch (IOException)
                {
                    // After a frame error the server closes without waiting for close-ok (§4.2.3).
                }

                return frame;
            }
        }
    }

    /// <summary>True when the server closes the socket within <paramref name="timeout"/> (frames before that are skipped).</summary>
    public async Task<bool> ClosedWithinAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await ReadFrameAsync(deadline - DateTime.UtcNow) is null)
                {
                    return true;
                }
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _client.Dispose();
    }
}
