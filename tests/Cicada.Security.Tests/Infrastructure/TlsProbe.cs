using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Cicada.Security.Tests.Infrastructure;

/// <summary>What a TLS server answered to a ClientHello.</summary>
public enum TlsAnswer
{
    /// <summary>A handshake record starting with ServerHello: the version was accepted.</summary>
    ServerHello,

    /// <summary>An alert record (<see cref="TlsProbe.AlertDescription"/> says which).</summary>
    Alert,

    /// <summary>The connection was closed without a record.</summary>
    Closed,
}

/// <summary>
/// Sends a hand-made ClientHello that offers exactly one protocol version (no supported_versions
/// extension, so a TLS 1.3 server must negotiate this version or refuse, RFC 8446 §4.2.1) and
/// reads the server's first record. It tests the server, not the local TLS library: a client
/// library of this machine may refuse TLS 1.0/1.1 on its own and so could prove nothing.
/// </summary>
public static class TlsProbe
{
    public const ushort Tls10 = 0x0301;
    public const ushort Tls11 = 0x0302;
    public const ushort Tls12 = 0x0303;

    /// <summary>RFC 8446 §6.2 / RFC 5246 §7.2: protocol_version(70).</summary>
    public const byte ProtocolVersionAlert = 70;

    public static async Task<(TlsAnswer Answer, byte AlertDescription)> HelloAsync(int port, ushort version)
    {
        using var tcp = new TcpClient { NoDelay = true };
        using var timeout = new CancellationTokenSource(Timeouts.Connect);
        await tcp.ConnectAsync("127.0.0.1", port, timeout.Token);
        var stream = tcp.GetStream();
        await stream.WriteAsync(ClientHello(version), timeout.Token);

        var header = new byte[5];
        if (!await ReadExactlyAsync(stream, header, timeout.Token))
            return (TlsAnswer.Closed, 0);
        var body = new byte[Math.Min((int)BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(3)), 2)];
        if (!await ReadExactlyAsync(stream, body, timeout.Token))
            return (TlsAnswer.Closed, 0);
        return header[0] switch
        {
            0x16 when body[0] == 0x02 => (TlsAnswer.ServerHello, 0),
            0x15 => (TlsAnswer.Alert, body[1]),
            _ => throw new InvalidDataException($"unexpected TLS record type {header[0]} / first byte {body[0]}"),
        };
    }

    private static async Task<bool> ReadExactlyAsync(NetworkStream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, cancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException)
        {
            return false;
        }
    }

    /// <summary>RFC 5246 §7.4.1.2 ClientHello in a handshake record.</summary>
    private static byte[] ClientHello(ushort version)
    {
        // ECDHE-ECDSA suites (the development certificates are P-256), in the flavours each version knows.
        ushort[] suites = version >= Tls12
            ? [0xC02B, 0xC02C, 0xC009, 0xC00A]   // AES-GCM (TLS 1.2 only) and AES-CBC
            : [0xC009, 0xC00A];                  // ECDHE_ECDSA_WITH_AES_128/256_CBC_SHA

        var hello = new List<byte>();
        Add16(hello, version);
        hello.AddRange(RandomNumberGenerator.GetBytes(32));
        hello.Add(0); // session id
        Add16(hello, (ushort)(suites.Length * 2));
        foreach (var suite in suites)
            Add16(hello, suite);
        hello.AddRange([1, 0]); // compression: null

        var extensions = new List<byte>();
        Extension(extensions, 0x000A, [0x00, 0x04, 0x00, 0x17, 0x00, 0x1D]); // supported_groups: secp256r1, x25519 (RFC 8422)
        Extension(extensions, 0x000B, [0x01, 0x00]);                          // ec_point_formats: uncompressed
        Extension(extensions, 0x000D, [0x00, 0x04, 0x04, 0x03, 0x05, 0x03]); // signature_algorithms: ecdsa_secp256r1_sha256, secp384r1_sha384
        Add16(hello, (ushort)extensions.Count);
        hello.AddRange(extensions);

        var handshake = new List<byte> { 0x01, 0, (byte)(hello.Count >> 8), (byte)hello.Count };
        handshake.AddRange(hello);
        var record = new List<byte> { 0x16, 0x03, 0x01 };
        Add16(record, (ushort)handshake.Count);
        record.AddRange(handshake);
        return [.. record];
    }

    private static void Extension(List<byte> extensions, ushort type, byte[] data)
    {
        Add16(extensions, type);
        Add16(extensions, (ushort)data.Length);
        extensions.AddRange(data);
    }

    private static void Add16(List<byte> bytes, ushort value)
    {
        bytes.Add((byte)(value >> 8));
        bytes.Add((byte)value);
    }
}
