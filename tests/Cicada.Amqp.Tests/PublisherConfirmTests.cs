using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Cicada.Amqp.Protocol;

namespace Cicada.Amqp.Tests;

/// <summary>Publisher confirms on the wire (RabbitMQ's confirm.select extension), where the multiple flag is visible.</summary>
public sealed class PublisherConfirmTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Confirms_ReadyTogether_AreCoalescedWithMultiple_AndCoverEveryTagOnce()
    {
        const int count = 40;
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", fixture.Server.AmqpPort);
        var stream = client.GetStream();
        var queue = await OpenConfirmChannelAsync(stream);

        // Every publish in one write: the broker reads them together and their confirms are ready together.
        var writer = new FrameWriter(64 * 1024);
        var properties = new BasicProperties().Encode();
        for (var i = 0; i < count; i++)
        {
            writer.BeginMethod(1, Method.BasicPublish);
            writer.WriteShort(0);
            writer.WriteShortString(string.Empty);
            writer.WriteShortString(queue);
            writer.WriteBit(false);
            writer.WriteBit(false);
            writer.EndFrame();
            var body = Encoding.UTF8.GetBytes($"m{i}");
            ContentHeader.Write(writer, 1, (ulong)body.Length, properties);
            writer.BeginFrame(FrameType.Body, 1);
            writer.WriteBytes(body);
            writer.EndFrame();
        }

        await stream.WriteAsync(writer.WrittenMemory);

        ulong confirmed = 0;
        var frames = 0;
        var multiples = 0;
        while (confirmed < count)
        {
            var (_, method, args) = await ReadMethodAsync(stream);
            Assert.Equal(Method.BasicAck, method);
            var tag = BinaryPrimitives.ReadUInt64BigEndian(args);
            var multiple = (args[8] & 1) != 0;
            // A single ack is the next tag; a multiple one settles every tag up to it, never one already settled.
            Assert.True(multiple ? tag > confirmed + 1 : tag == confirmed + 1, $"ack {tag} (multiple {multiple}) after {confirmed}");
            confirmed = tag;
            frames++;
            multiples += multiple ? 1 : 0;
        }

        Assert.Equal((ulong)count, confirmed);
        Assert.True(multiples > 0 && frames < count, $"{count} confirms took {frames} acks, {multiples} with multiple=true");
    }

    private static async Task<string> OpenConfirmChannelAsync(NetworkStream stream)
    {
        await stream.WriteAsync(AmqpFrameReader.ProtocolHeader.ToArray());
        await ExpectAsync(stream, Method.ConnectionStart);
        var w = new FrameWriter();
        w.BeginMethod(0, Method.ConnectionStartOk);
        w.WriteTable(null);
        w.WriteShortString("PLAIN");
        w.WriteLongString("\0guest\0guest"u8);
        w.WriteShortString("en_US");
        w.EndFrame();
        await SendAsync(stream, w);
        await ExpectAsync(stream, Method.ConnectionTune);
        w.BeginMethod(0, Method.ConnectionTuneOk);
        w.WriteShort(16);
        w.WriteLong(131_072);
        w.WriteShort(0);
        w.EndFrame();
        w.BeginMethod(0, Method.ConnectionOpen);
        w.WriteShortString("/");
        w.WriteShortString(string.Empty);
        w.WriteBit(false);
        w.EndFrame();
        await SendAsync(stream, w);
        await ExpectAsync(stream, Method.ConnectionOpenOk);
        w.BeginMethod(1, Method.ChannelOpen);
        w.WriteShortString(string.Empty);
        w.EndFrame();
        await SendAsync(stream, w);
        await ExpectAsync(stream, Method.ChannelOpenOk);
        w.BeginMethod(1, Method.QueueDeclare);
        w.WriteShort(0);
        w.WriteShortString(string.Empty);
        w.WriteBit(false); // passive
        w.WriteBit(false); // durable
        w.WriteBit(true); // exclusive
        w.WriteBit(true); // auto-delete
        w.WriteBit(false); // no-wait
        w.WriteTable(null);
        w.EndFrame();
        await SendAsync(stream, w);
        var declareOk = await ExpectAsync(stream, Method.QueueDeclareOk);
        var queue = new AmqpReader(declareOk).ReadShortString();
        w.BeginMethod(1, Method.ConfirmSelect);
        w.WriteBit(false);
        w.EndFrame();
        await SendAsync(stream, w);
        await ExpectAsync(stream, Method.ConfirmSelectOk);
        return queue;
    }

    private static async Task SendAsync(NetworkStream stream, FrameWriter writer)
    {
        await stream.WriteAsync(writer.WrittenMemory);
        writer.Clear();
    }

    private static async Task<byte[]> ExpectAsync(NetworkStream stream, uint expected)
    {
        var (_, method, args) = await ReadMethodAsync(stream);
        Assert.Equal(expected, method);
        return args;
    }

    private static async Task<(ushort Channel, uint Method, byte[] Args)> ReadMethodAsync(NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var header = new byte[7];
        await stream.ReadExactlyAsync(header, timeout.Token);
        var size = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(3));
        var rest = new byte[size + 1];
        await stream.ReadExactlyAsync(rest, timeout.Token);
        var all = new ReadOnlySequence<byte>([.. header, .. rest]);
        Assert.Equal(FrameStatus.Done, AmqpFrameReader.TryRead(ref all, 1 << 20, out var frame, out _));
        Assert.Equal(FrameType.Method, frame.Type);
        var payload = frame.Payload.ToArray();
        var method = (uint)BinaryPrimitives.ReadUInt16BigEndian(payload) << 16 | BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(2));
        return (frame.Channel, method, payload[4..]);
    }
}
