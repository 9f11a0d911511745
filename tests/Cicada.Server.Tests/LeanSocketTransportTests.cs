using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Cicada.Server.Transport;

namespace Cicada.Server.Tests;

/// <summary>
/// The lean socket transport of the plain-TCP MQTT listener (Mqtt:Transport sockets): its pipes
/// over a connected loopback socket pair, and the listener in the real host under both transports.
/// </summary>
public sealed class LeanSocketTransportTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    private static async Task<(Socket Server, Socket Client)> ConnectedPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        return (server, client);
    }

    [Fact]
    public async Task Reader_AfterEverythingIsConsumed_HoldsNoBuffer_WhileWaiting()
    {
        var (server, client) = await ConnectedPairAsync();
        using (client)
        await using (var connection = new LeanSocketConnection(server))
        {
            var reader = (SocketPipeReader)connection.Transport.Input;
            await client.SendAsync(new byte[] { 1, 2, 3 });

            var result = await reader.ReadAsync().AsTask().WaitAsync(Timeout);
            Assert.Equal(new byte[] { 1, 2, 3 }, result.Buffer.ToArray());
            Assert.True(reader.HoldsBuffer);
            reader.AdvanceTo(result.Buffer.End);

            // An idle connection waits with a zero-byte receive, empty-handed.
            var pending = reader.ReadAsync();
            Assert.False(pending.IsCompleted);
            Assert.False(reader.HoldsBuffer);

            await client.SendAsync(new byte[] { 4 });
            result = await pending.AsTask().WaitAsync(Timeout);
            Assert.Equal(new byte[] { 4 }, result.Buffer.ToArray());
            reader.AdvanceTo(result.Buffer.End);
        }
    }

    [Fact]
    public async Task Reader_WhenTheLastReadWasExaminedButNotConsumed_WaitsForMore_AndKeepsTheUnconsumedBytes()
    {
        var (server, client) = await ConnectedPairAsync();
        using (client)
        await using (var connection = new LeanSocketConnection(server))
        {
            var reader = connection.Transport.Input;
            await client.SendAsync(new byte[] { 10, 11 });
            var result = await reader.ReadAsync().AsTask().WaitAsync(Timeout);
            Assert.Equal(2, result.Buffer.Length);
            // Half a packet: nothing consumed, everything examined, as a frame parser does.
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);

            var pending = reader.ReadAsync();
            Assert.False(pending.IsCompleted);
            // More than the initial buffer, so the buffer must grow and keep the first bytes in front.
            var big = Enumerable.Range(0, 10_000).Select(i => (byte)i).ToArray();
            await client.SendAsync(big);

            var expected = new byte[] { 10, 11 }.Concat(big).ToArray();
            var seen = 0L;
            while (true)
            {
                result = await (seen == 0 ? pending : reader.ReadAsync()).AsTask().WaitAsync(Timeout);
                seen = result.Buffer.Length;
                if (seen == expected.Length)
                {
                    break;
                }

                reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            }

            Assert.Equal(expected, result.Buffer.ToArray());
            reader.AdvanceTo(result.Buffer.End);
        }
    }

    [Fact]
    public async Task Reader_CancelPendingRead_EndsAPendingRead_AsCanceled()
    {
        var (server, client) = await ConnectedPairAsync();
        using (client)
        await using (var connection = new LeanSocketConnection(server))
        {
            var reader = connection.Transport.Input;
            var pending = reader.ReadAsync();
            Assert.False(pending.IsCompleted);

            reader.CancelPendingRead();

            var result = await pending.AsTask().WaitAsync(Timeout);
            Assert.True(result.IsCanceled);
        }
    }

    [Fact]
    public async Task Reader_WhenThePeerCloses_CompletesTheRead()
    {
        var (server, client) = await ConnectedPairAsync();
        await using var connection = new LeanSocketConnection(server);
        var reader = connection.Transport.Input;
        var pending = reader.ReadAsync();

        client.Shutdown(SocketShutdown.Send);
        client.Dispose();

        var result = await pending.AsTask().WaitAsync(Timeout);
        Assert.True(result.IsCompleted);
    }

    [Fact]
    public async Task Writer_AFlushLargerThanTheSocketTakes_ArrivesWhole_AndReleasesItsBuffer()
    {
        var (server, client) = await ConnectedPairAsync();
        using (client)
        await using (var connection = new LeanSocketConnection(server))
        {
            var writer = (SocketPipeWriter)connection.Transport.Output;
            var payload = Enumerable.Range(0, 8 * 1024 * 1024).Select(i => (byte)(i * 7)).ToArray();
            payload.CopyTo(writer.GetSpan(payload.Length));
            writer.Advance(payload.Length);
            Assert.Equal(payload.Length, writer.UnflushedBytes);

            // 8 MB is more than loopback's socket buffers: the send must wait for the reader below.
            var flush = writer.FlushAsync().AsTask();
            var received = new byte[payload.Length];
            var total = 0;
            while (total < received.Length)
            {
                var n = await client.ReceiveAsync(received.AsMemory(total)).AsTask().WaitAsync(Timeout);
                Assert.NotEqual(0, n);
                total += n;
            }

            var flushed = await flush.WaitAsync(Timeout);
            Assert.False(flushed.IsCanceled);
            Assert.Equal(payload, received);
            Assert.Equal(0, writer.UnflushedBytes);
            // The send pass returns its array right after the last byte went: poll, do not race it.
            var deadline = DateTime.UtcNow + Timeout;
            while (writer.HoldsBuffer && DateTime.UtcNow < deadline)
            {
                await Task.Delay(10);
            }

            Assert.False(writer.HoldsBuffer);
        }
    }

    [Fact]
    public async Task Writer_CompleteAsync_SendsWhatWasWrittenButNotFlushed()
    {
        var (server, client) = await ConnectedPairAsync();
        using (client)
        await using (var connection = new LeanSocketConnection(server))
        {
            var writer = connection.Transport.Output;
            await writer.WriteAsync(new byte[] { 0xE0, 0x00 }); // a whole MQTT DISCONNECT
            "\u0001\u0002"u8.CopyTo(writer.GetSpan(2));
            writer.Advance(2);

            await writer.CompleteAsync();
            connection.Close();

            var received = new byte[8];
            var total = 0;
            int n;
            while ((n = await client.ReceiveAsync(received.AsMemory(total)).AsTask().WaitAsync(Timeout)) > 0)
            {
                total += n;
            }

            Assert.Equal(new byte[] { 0xE0, 0x00, 1, 2 }, received[..total]);
        }
    }

    [Fact]
    public async Task Connection_Abort_FailsAPendingRead_AndCancelsConnectionClosed()
    {
        var (server, client) = await ConnectedPairAsync();
        using (client)
        await using (var connection = new LeanSocketConnection(server))
        {
            var closed = connection.ConnectionClosed;
            var pending = connection.Transport.Input.ReadAsync().AsTask();

            connection.Abort(new Microsoft.AspNetCore.Connections.ConnectionAbortedException("test"));

            var error = await Assert.ThrowsAnyAsync<Exception>(() => pending.WaitAsync(Timeout));
            Assert.True(error is IOException or Microsoft.AspNetCore.Connections.ConnectionAbortedException, error.ToString());
            Assert.True(closed.IsCancellationRequested);
            Assert.True(connection.ConnectionClosed.IsCancellationRequested);
        }
    }

    [Theory]
    [InlineData("sockets")]
    [InlineData("kestrel")]
    public async Task MqttListener_OnEitherTransport_AnswersConnect_WithConnAck_MQTT_3_2_0_1(string transport)
    {
        var port = Net.FreeTcpPort();
        _cli.Environment["CICADA_MQTT__TRANSPORT"] = transport;
        Assert.Equal(0, await _cli.RunAsync("--mqtt", $"127.0.0.1:{port}", "--http", "off", "--coap", "off", "--amqp", "off",
            "--storage", "memory", "--log-level", "none"));
        await using var app = Hosting.CicadaServer.Build(_cli.Served!, _cli.ServedConfiguration!);
        await app.StartAsync();

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, port);
        // CONNECT, MQTT 3.1.1, clean session, keep-alive 60, client id "t".
        byte[] connect = [0x10, 13, 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 2, 0, 60, 0, 1, (byte)'t'];
        await client.SendAsync(connect);
        var connAck = new byte[4];
        var total = 0;
        while (total < 4)
        {
            var n = await client.ReceiveAsync(connAck.AsMemory(total)).AsTask().WaitAsync(Timeout);
            Assert.NotEqual(0, n);
            total += n;
        }

        Assert.Equal(new byte[] { 0x20, 2, 0, 0 }, connAck);
        await app.StopAsync();

        // Stopped: the broker closed the connection (MQTT-3.1.1 has no DISCONNECT from the server).
        var rest = new byte[16];
        try
        {
            Assert.Equal(0, await client.ReceiveAsync(rest, SocketFlags.None).WaitAsync(Timeout));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Closed with a reset: closed all the same.
        }
    }
}
