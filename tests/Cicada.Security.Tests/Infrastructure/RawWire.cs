using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Cicada.Security.Tests.Infrastructure;

/// <summary>What a raw connection got back: the bytes, whether the server closed it, and the peer endpoint the broker logs.</summary>
public sealed record RawExchange(byte[] Received, bool Closed, string Peer)
{
    public string Latin1 => Encoding.Latin1.GetString(Received);
}

/// <summary>
/// Bytes over a bare socket, for inputs no client library would send: TCP (MQTT, AMQP, HTTP) read
/// until the server closes or goes quiet, UDP (CoAP) one datagram each way.
/// </summary>
public static class RawWire
{
    /// <summary>
    /// Sends <paramref name="chunks"/> in order and reads until the server closes the connection
    /// (the expected end of every malformed exchange) or <paramref name="quiet"/> passes with nothing new.
    /// <paramref name="reply"/> may answer what arrived (an AMQP close-ok) once.
    /// </summary>
    public static async Task<RawExchange> TcpAsync(int port, IEnumerable<byte[]> chunks, TimeSpan? quiet = null, Func<byte[], byte[]?>? reply = null,
        Func<byte[], bool>? done = null, bool stepwise = false)
    {
        using var client = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, port);
        var peer = Peer(client.Client);
        var stream = client.GetStream();
        using var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        var list = chunks.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            await stream.WriteAsync(list[i]);
            if (stepwise && i < list.Count - 1)
            {
                // The answer to this chunk (a CONNACK) before the next one goes out.
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                var read = await stream.ReadAsync(buffer, timeout.Token);
                received.Write(buffer, 0, read);
            }
        }

        var replied = false;
        while (true)
        {
            using var timeout = new CancellationTokenSource(quiet ?? TimeSpan.FromSeconds(10));
            int read;
            try
            {
                read = await stream.ReadAsync(buffer, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                return new RawExchange(received.ToArray(), false, peer);
            }
            catch (IOException)
            {
                return new RawExchange(received.ToArray(), true, peer); // reset: closed too
            }

            if (read == 0)
            {
                return new RawExchange(received.ToArray(), true, peer);
            }

            received.Write(buffer, 0, read);
            if (done?.Invoke(received.ToArray()) == true)
            {
                return new RawExchange(received.ToArray(), false, peer);
            }

            if (!replied && reply?.Invoke(received.ToArray()) is { } answer)
            {
                replied = true;
                try
                {
                    await stream.WriteAsync(answer);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    /// <summary>The peer as the broker logs it (<c>127.0.0.1:PORT</c>).</summary>
    private static string Peer(Socket socket) => "127.0.0.1:" + ((IPEndPoint)socket.LocalEndPoint!).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>One datagram to the CoAP port and the answer, or null after <paramref name="wait"/>.</summary>
    public static async Task<(byte[]? Answer, string Peer)> UdpAsync(int port, byte[] datagram, TimeSpan wait)
    {
        using var socket = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var peer = Peer(socket.Client);
        await socket.SendAsync(datagram, new IPEndPoint(IPAddress.Loopback, port));
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            return ((await socket.ReceiveAsync(timeout.Token)).Buffer, peer);
        }
        catch (OperationCanceledException)
        {
            return (null, peer);
        }
    }
}

/// <summary>AMQP 0-9-1 frames by hand (§2.3.5 frame layout, §4.2.3 method frames): just enough to open a channel and publish.</summary>
public static class AmqpWire
{
    public static readonly byte[] ProtocolHeader = "AMQP\0\0\u0009\u0001"u8.ToArray();

    public static byte[] Frame(byte type, ushort channel, byte[] payload)
    {
        var frame = new byte[7 + payload.Length + 1];
        frame[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(1), channel);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(3), (uint)payload.Length);
        payload.CopyTo(frame, 7);
        frame[^1] = 0xCE;
        return frame;
    }

    public static byte[] Method(ushort channel, ushort classId, ushort methodId, params byte[][] arguments)
    {
        var payload = new List<byte> { (byte)(classId >> 8), (byte)classId, (byte)(methodId >> 8), (byte)methodId };
        foreach (var argument in arguments)
        {
            payload.AddRange(argument);
        }

        return Frame(1, channel, [.. payload]);
    }

    public static byte[] Short(string text) => [(byte)text.Length, .. Encoding.UTF8.GetBytes(text)];

    public static byte[] Long(byte[] bytes) => [(byte)(bytes.Length >> 24), (byte)(bytes.Length >> 16), (byte)(bytes.Length >> 8), (byte)bytes.Length, .. bytes];

    /// <summary>start-ok (PLAIN guest/guest), tune-ok, connection.open: the client half of §4.2.2's handshake, sent at once.</summary>
    public static byte[][] Handshake() =>
    [
        ProtocolHeader,
        Method(0, 10, 11, Long([]), Short("PLAIN"), Long("\0guest\0guest"u8.ToArray()), Short("en_US")),
        Method(0, 10, 31, [0, 0], [0, 2, 0, 0], [0, 0]), // channel-max 0, frame-max 131072, heartbeat 0
        Method(0, 10, 40, Short("/"), Short(string.Empty), [0]),
    ];

    public static byte[] ChannelOpen(ushort channel) => Method(channel, 20, 10, Short(string.Empty));

    /// <summary>basic.publish to amq.topic with its content header and one body frame (§4.2.6).</summary>
    public static byte[][] Publish(ushort channel, string routingKey, byte[] body)
    {
        var header = new byte[14];
        BinaryPrimitives.WriteUInt16BigEndian(header, 60);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(4), (ulong)body.Length);
        return
        [
            Method(channel, 60, 40, [0, 0], Short("amq.topic"), Short(routingKey), [0]),
            Frame(2, channel, header),
            Frame(3, channel, body),
        ];
    }

    /// <summary>The frames in what the server sent (after its protocol header, if any): (type, channel, payload).</summary>
    public static List<(byte Type, ushort Channel, byte[] Payload)> Frames(byte[] received)
    {
        var frames = new List<(byte, ushort, byte[])>();
        var at = received.AsSpan().StartsWith("AMQP"u8) ? 8 : 0;
        while (at + 7 <= received.Length)
        {
            var size = (int)BinaryPrimitives.ReadUInt32BigEndian(received.AsSpan(at + 3));
            if (at + 7 + size + 1 > received.Length)
            {
                break;
            }

            frames.Add((received[at], BinaryPrimitives.ReadUInt16BigEndian(received.AsSpan(at + 1)), received.AsSpan(at + 7, size).ToArray()));
            at += 7 + size + 1;
        }

        return frames;
    }

    /// <summary>The reply code of the connection.close (10,50) the server sent, or null.</summary>
    public static int? CloseCode(byte[] received) =>
        Frames(received).Where(f => f.Type == 1 && f.Channel == 0 && f.Payload.Length >= 6
                && BinaryPrimitives.ReadUInt16BigEndian(f.Payload) == 10 && BinaryPrimitives.ReadUInt16BigEndian(f.Payload.AsSpan(2)) == 50)
            .Select(f => (int?)BinaryPrimitives.ReadUInt16BigEndian(f.Payload.AsSpan(4))).FirstOrDefault();

    /// <summary>connection.close-ok (§4.2.2: the peer answers a close), once the close has arrived.</summary>
    public static byte[]? CloseOkWhenClosed(byte[] received) => CloseCode(received) is null ? null : Method(0, 10, 51);

    /// <summary>Whether connection.close-ok (10,51) arrived: the server is done with a connection the client closed.</summary>
    public static bool CloseOkReceived(byte[] received) =>
        Frames(received).Any(f => f.Type == 1 && f.Channel == 0 && f.Payload.Length >= 4
            && BinaryPrimitives.ReadUInt16BigEndian(f.Payload) == 10 && BinaryPrimitives.ReadUInt16BigEndian(f.Payload.AsSpan(2)) == 51);

    /// <summary>Whether channel.open-ok (20,11) on <paramref name="channel"/> arrived.</summary>
    public static bool ChannelOpened(byte[] received, ushort channel) =>
        Frames(received).Any(f => f.Type == 1 && f.Channel == channel && f.Payload.Length >= 4
            && BinaryPrimitives.ReadUInt16BigEndian(f.Payload) == 20 && BinaryPrimitives.ReadUInt16BigEndian(f.Payload.AsSpan(2)) == 11);
}

/// <summary>CoAP messages by hand (RFC 7252 §3): header, token, options in delta encoding, payload.</summary>
public static class CoapWire
{
    public static byte[] Message(byte type, byte code, ushort messageId, byte[] token, IEnumerable<(int Number, byte[] Value)> options, byte[]? payload = null)
    {
        var bytes = new List<byte> { (byte)(0x40 | (type << 4) | token.Length), code, (byte)(messageId >> 8), (byte)messageId };
        bytes.AddRange(token);
        var previous = 0;
        foreach (var (number, value) in options.OrderBy(o => o.Number))
        {
            var delta = number - previous;
            previous = number;
            var (deltaNibble, deltaExt) = Nibble(delta);
            var (lengthNibble, lengthExt) = Nibble(value.Length);
            bytes.Add((byte)((deltaNibble << 4) | lengthNibble));
            bytes.AddRange(deltaExt);
            bytes.AddRange(lengthExt);
            bytes.AddRange(value);
        }

        if (payload is { Length: > 0 })
        {
            bytes.Add(0xFF);
            bytes.AddRange(payload);
        }

        return [.. bytes];
    }

    /// <summary>A confirmable PUT to <c>/ps/{topic}</c> (DESIGN.md mapping), one Uri-Path option per level.</summary>
    public static byte[] Put(ushort messageId, string topic, byte[] payload) =>
        Message(0, 0x03, messageId, [1, 2], new[] { "ps" }.Concat(topic.Split('/')).Select(l => (11, Encoding.UTF8.GetBytes(l))), payload);

    private static (int Nibble, byte[] Extension) Nibble(int value) => value switch
    {
        < 13 => (value, []),
        < 269 => (13, [(byte)(value - 13)]),
        _ => (14, [(byte)((value - 269) >> 8), (byte)(value - 269)]),
    };

    public static int Type(byte[] message) => (message[0] >> 4) & 0x03;

    public static string Code(byte[] message) => $"{message[1] >> 5}.{message[1] & 0x1F:00}";

    public static ushort MessageId(byte[] message) => BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(2));
}
