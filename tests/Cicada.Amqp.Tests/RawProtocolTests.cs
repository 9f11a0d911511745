using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using Cicada.Amqp.Protocol;

namespace Cicada.Amqp.Tests;

/// <summary>Wire-level rules no client library lets one break: protocol header negotiation and frame errors.</summary>
public sealed class RawProtocolTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private async Task<NetworkStream> OpenAsync(byte[] header)
    {
        var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", fixture.Server.AmqpPort);
        var stream = client.GetStream();
        stream.ReadTimeout = 5000;
        await stream.WriteAsync(header);
        return stream;
    }

    private static async Task<byte[]> ReadToEndAsync(NetworkStream stream)
    {
        using var buffer = new MemoryStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await stream.CopyToAsync(buffer, timeout.Token);
        return buffer.ToArray();
    }

    [Theory]
    [InlineData("AMQP\u0001\u0001\u0000\u000A")] // AMQP 0-10
    [InlineData("AMQP\u0000\u0000\u0008\u0000")] // AMQP 0-8
    [InlineData("GET / HT")]
    public async Task Spec_4_2_2_WrongProtocolHeader_IsAnsweredWithOursAndClosed(string header)
    {
        await using var stream = await OpenAsync(System.Text.Encoding.Latin1.GetBytes(header));

        var reply = await ReadToEndAsync(stream);

        Assert.Equal(AmqpFrameReader.ProtocolHeader.ToArray(), reply);
    }

    [Fact]
    public async Task Spec_4_2_2_RightHeader_IsAnsweredWithConnectionStart()
    {
        await using var stream = await OpenAsync(AmqpFrameReader.ProtocolHeader.ToArray());

        var (channel, method, args) = await ReadMethodAsync(stream);

        Assert.Equal(0, channel);
        Assert.Equal(Method.ConnectionStart, method);
        var reader = new AmqpReader(args);
        Assert.Equal((0, 9), (reader.ReadOctet(), reader.ReadOctet()));
        var properties = reader.ReadTable();
        Assert.IsType<Dictionary<string, object?>>(properties["capabilities"]);
        Assert.Contains("PLAIN", reader.ReadLongString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Spec_4_2_3_FrameOverFrameMax_ClosesTheConnectionWith501()
    {
        await using var stream = await OpenAsync(AmqpFrameReader.ProtocolHeader.ToArray());
        await ReadMethodAsync(stream); // connection.start

        // Before tune-ok the limit is frame-min-size (4096): announce 1 MiB and send only the header.
        await stream.WriteAsync(new byte[] { FrameType.Method, 0, 0, 0, 0x10, 0, 0 });

        var (_, method, args) = await ReadMethodAsync(stream);
        Assert.Equal(Method.ConnectionClose, method);
        Assert.Equal(ReplyCode.FrameError, BinaryPrimitives.ReadUInt16BigEndian(args));
    }

    [Fact]
    public async Task Spec_2_3_5_1_FrameWithoutFrameEnd_ClosesTheConnectionWith501()
    {
        await using var stream = await OpenAsync(AmqpFrameReader.ProtocolHeader.ToArray());
        await ReadMethodAsync(stream);

        await stream.WriteAsync(new byte[] { FrameType.Heartbeat, 0, 0, 0, 0, 0, 0, 0x00 });

        var (_, method, args) = await ReadMethodAsync(stream);
        Assert.Equal(Method.ConnectionClose, method);
        Assert.Equal(ReplyCode.FrameError, BinaryPrimitives.ReadUInt16BigEndian(args));
    }

    [Fact]
    public async Task Spec_StartOk_WithUnknownMechanism_ClosesWith503()
    {
        await using var stream = await OpenAsync(AmqpFrameReader.ProtocolHeader.ToArray());
        await ReadMethodAsync(stream);
        var writer = new FrameWriter();
        writer.BeginMethod(0, Method.ConnectionStartOk);
        writer.WriteTable(null);
        writer.WriteShortString("EXTERNAL-ISH");
        writer.WriteLongString(string.Empty);
        writer.WriteShortString("en_US");
        writer.EndFrame();
        await stream.WriteAsync(writer.WrittenMemory);

        var (_, method, args) = await ReadMethodAsync(stream);
        Assert.Equal(Method.ConnectionClose, method);
        Assert.Equal(ReplyCode.CommandInvalid, BinaryPrimitives.ReadUInt16BigEndian(args));
    }

    private static async Task<(ushort Channel, uint Method, byte[] Args)> ReadMethodAsync(NetworkStream stream)
    {
        var header = new byte[7];
        await stream.ReadExactlyAsync(header);
        var size = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(3));
        var rest = new byte[size + 1];
        await stream.ReadExactlyAsync(rest);
        var all = new ReadOnlySequence<byte>([.. header, .. rest]);
        Assert.Equal(FrameStatus.Done, AmqpFrameReader.TryRead(ref all, 1 << 20, out var frame, out _));
        Assert.Equal(FrameType.Method, frame.Type);
        var payload = frame.Payload.ToArray();
        var method = (uint)BinaryPrimitives.ReadUInt16BigEndian(payload) << 16 | BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(2));
        return (frame.Channel, method, payload[4..]);
    }
}
