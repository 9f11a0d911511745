using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Cicada.Fault.Tests.Infrastructure;

/// <summary>A CoAP response as the client saw it: its code (class &lt;&lt; 5 | detail) and payload.</summary>
public sealed record CoapReply(byte Code, string Payload)
{
    public const byte Created = 0x41, Changed = 0x44, Content = 0x45, NotFound = 0x84, ServiceUnavailable = 0xA3;

    public bool IsSuccess => Code >> 5 == 2;

    public override string ToString() => $"{Code >> 5}.{Code & 0x1F:D2} {Payload}";
}

/// <summary>
/// A minimal CoAP client over a raw UDP socket (RFC 7252 §3 message format): CON requests with a
/// token, retransmitted with the same Message ID (§4.2), answered piggybacked in the ACK or, after
/// an empty ACK, in a separate CON response that the client acknowledges (§5.2.2). A fault test
/// thus knows exactly which request the broker answered with a 2.xx before it died.
/// </summary>
public sealed class CoapWireClient : IDisposable
{
    public const byte Get = 0x01, Post = 0x02, Put = 0x03;

    private readonly UdpClient _udp;
    private ushort _messageId = (ushort)Random.Shared.Next(1, 60000);
    private uint _token = (uint)Random.Shared.Next();

    public CoapWireClient(int port)
    {
        _udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        _udp.Connect(IPAddress.Loopback, port);
    }

    /// <summary>Sends a CON request; returns its response, or null when none came within the retransmissions.</summary>
    public async Task<CoapReply?> RequestAsync(byte code, string path, string payload = "", int attempts = 4, TimeSpan? interval = null)
    {
        var request = Build(code, path, payload, out var messageId, out var token);
        await _udp.SendAsync(request);
        for (var attempt = 1; attempt <= attempts; attempt++)
        {
            if (await ReceiveReplyAsync(messageId, token, interval ?? TimeSpan.FromSeconds(2)) is { } reply)
            {
                return reply;
            }

            if (attempt < attempts)
            {
                await _udp.SendAsync(request); // §4.2: a retransmission keeps the Message ID
            }
        }

        return null;
    }

    /// <summary>Sends a CON request and returns without waiting; <see cref="ReceiveReplyAsync"/> picks up the answer.</summary>
    public async Task<(ushort MessageId, uint Token)> SendAsync(byte code, string path, string payload)
    {
        var request = Build(code, path, payload, out var messageId, out var token);
        await _udp.SendAsync(request);
        return (messageId, token);
    }

    /// <summary>The response to (<paramref name="messageId"/>, <paramref name="token"/>), or null when nothing arrives in time.</summary>
    public async Task<CoapReply?> ReceiveReplyAsync(ushort messageId, uint token, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            using var cts = new CancellationTokenSource(deadline - DateTime.UtcNow);
            UdpReceiveResult datagram;
            try
            {
                datagram = await _udp.ReceiveAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
            catch (SocketException)
            {
                // ICMP port unreachable (the broker is down) surfaces as a receive error on a connected socket.
                await Task.Delay(50, CancellationToken.None);
                continue;
            }

            if (!TryParse(datagram.Buffer, out var type, out var code, out var id, out var replyToken, out var payload))
            {
                continue;
            }

            if (type == 0 && replyToken == token)
            {
                // A separate response (§5.2.2) is a CON of its own: acknowledge it with an empty ACK.
                await _udp.SendAsync(new byte[] { 0x60, 0x00, (byte)(id >> 8), (byte)id });
                return new CoapReply(code, payload);
            }

            if (type == 2 && id == messageId && code != 0 && replyToken == token)
            {
                return new CoapReply(code, payload);
            }

            // An empty ACK (the separate response follows) or a stale datagram: keep listening.
        }

        return null;
    }

    public void Dispose() => _udp.Dispose();

    private byte[] Build(byte code, string path, string payload, out ushort messageId, out uint token)
    {
        messageId = ++_messageId;
        token = ++_token;
        var bytes = new List<byte> { 0x44, code, (byte)(messageId >> 8), (byte)messageId }; // ver 1, CON, TKL 4
        bytes.AddRange([(byte)(token >> 24), (byte)(token >> 16), (byte)(token >> 8), (byte)token]);
        var previous = 0;
        var question = path.IndexOf('?', StringComparison.Ordinal);
        var (pathPart, query) = question >= 0 ? (path[..question], path[(question + 1)..]) : (path, "");
        var options = pathPart.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(s => (Number: 11, Text: s))
            .Concat(query.Split('&', StringSplitOptions.RemoveEmptyEntries).Select(s => (Number: 15, Text: s)));
        foreach (var (number, text) in options)
        {
            // §3.1: options in order, each as a delta from the previous number (Uri-Path 11, Uri-Query 15).
            AppendOption(bytes, number - previous, Encoding.UTF8.GetBytes(text));
            previous = number;
        }

        if (payload.Length > 0)
        {
            bytes.Add(0xFF);
            bytes.AddRange(Encoding.UTF8.GetBytes(payload));
        }

        return [.. bytes];
    }

    private static void AppendOption(List<byte> bytes, int delta, byte[] value)
    {
        static (int Nibble, byte[] Extended) Encode(int n) => n switch
        {
            < 13 => (n, []),
            < 269 => (13, [(byte)(n - 13)]),
            _ => (14, [(byte)((n - 269) >> 8), (byte)(n - 269)]),
        };

        var (d, dx) = Encode(delta);
        var (l, lx) = Encode(value.Length);
        bytes.Add((byte)((d << 4) | l));
        bytes.AddRange(dx);
        bytes.AddRange(lx);
        bytes.AddRange(value);
    }

    private static bool TryParse(byte[] datagram, out int type, out byte code, out ushort id, out uint token, out string payload)
    {
        type = 0;
        code = 0;
        id = 0;
        token = 0;
        payload = "";
        if (datagram.Length < 4 || datagram[0] >> 6 != 1)
        {
            return false;
        }

        type = (datagram[0] >> 4) & 3;
        var tokenLength = datagram[0] & 0x0F;
        code = datagram[1];
        id = (ushort)((datagram[2] << 8) | datagram[3]);
        var offset = 4;
        for (var i = 0; i < tokenLength && offset < datagram.Length; i++)
        {
            token = (token << 8) | datagram[offset++];
        }

        while (offset < datagram.Length)
        {
            if (datagram[offset] == 0xFF)
            {
                payload = Encoding.UTF8.GetString(datagram, offset + 1, datagram.Length - offset - 1);
                break;
            }

            var header = datagram[offset++];
            int Extended(int nibble)
            {
                return nibble switch
                {
                    13 => 13 + datagram[offset++],
                    14 => 269 + (datagram[offset++] << 8) + datagram[offset++],
                    _ => nibble,
                };
            }

            _ = Extended(header >> 4);
            offset += Extended(header & 0x0F);
        }

        return true;
    }
}
