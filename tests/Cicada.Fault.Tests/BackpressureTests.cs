using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Cicada.Fault.Tests.Infrastructure;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace Cicada.Fault.Tests;

/// <summary>
/// Broker:OverflowPolicy = backpressure over real sockets: publishers that flood QoS 0 into one
/// subscriber that reads slowly but steadily lose nothing — the broker stops reading them and TCP
/// slows them down — although the flood is many times the subscriber's queue bound. (A stuck
/// subscriber, which must never stall publishers, is <see cref="SlowConsumerTests"/>.)
/// </summary>
public sealed class BackpressureTests(ITestOutputHelper output)
{
    private const int QueueBound = 1000;
    private const int Publishers = 4;
    private const int PerPublisher = 5000;
    private const int PayloadSize = 1024;
    private const int Batch = 50;

    [Fact]
    public async Task Slow_draining_subscriber_loses_no_QoS_0_message_of_a_flood_20_times_its_queue_bound()
    {
        await using var server = await StartAsync();
        var topic = $"fanin/{Guid.NewGuid():N}";
        var publishers = new List<WireClient>();
        try
        {
            for (var p = 0; p < Publishers; p++)
            {
                publishers.Add(await WireClient.ConnectAsync(server.MqttPort, $"flood-{p}"));
            }

            await FloodIntoSlowSubscriberAsync(server, topic,
                () => Task.WhenAll(publishers.Select((client, p) => FloodAsync(client, $"{topic}/{p}", p))));
        }
        finally
        {
            foreach (var client in publishers)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task AMQP_publishers_without_confirms_are_slowed_too_and_lose_nothing()
    {
        // basic.publish has no acknowledgement to hold back (no confirms): the AMQP connection
        // reads no further frame until the backed-up subscriber caught up, as the MQTT edge does.
        await using var server = await StartAsync(amqp: true);
        var topic = $"fanin/{Guid.NewGuid():N}";
        await FloodIntoSlowSubscriberAsync(server, topic,
            () => Task.WhenAll(Enumerable.Range(0, Publishers).Select(p => FloodAmqpAsync(server.AmqpPort, $"{topic}/{p}".Replace('/', '.')))));
    }

    private static Task<CicadaProcess> StartAsync(bool amqp = false) =>
        CicadaProcess.StartAsync(new ServerSettings
        {
            Sqlite = false,
            Http = true,
            Amqp = amqp,
            Environment = new Dictionary<string, string>
            {
                ["CICADA_BROKER__MAXQUEUEDMESSAGES"] = $"{QueueBound}",
                ["CICADA_BROKER__OVERFLOWPOLICY"] = "backpressure",
                // Generous: a starved CI machine pausing the reader for a while must not make it
                // look stuck. What is checked is the outcome, not how long anything took.
                ["CICADA_BROKER__BACKPRESSUREMAXWAITMILLISECONDS"] = "60000",
            },
        });

    /// <summary>Subscribes slowly to <c>{topic}/+</c>, runs the flood, and checks nothing was lost.</summary>
    private async Task FloodIntoSlowSubscriberAsync(CicadaProcess server, string topic, Func<Task> flood)
    {
        using var subscriber = await SubscribeAsync(server.MqttPort, topic + "/+");
        var reading = Task.Run(() => ReadSlowlyAsync(subscriber.GetStream(), Publishers * PerPublisher));

        await flood();
        var (counts, outOfOrder, total) = await reading.WaitAsync(TimeSpan.FromMinutes(3));

        var dropped = await server.MetricAsync("cicada_messages_dropped_total");
        var throttled = await server.MetricAsync("cicada_publishes_throttled_total");
        output.WriteLine($"received per publisher: {string.Join(", ", counts)}; dropped {dropped}; throttled publishes {throttled}");
        Assert.Equal(Enumerable.Repeat(PerPublisher, Publishers), counts);
        Assert.Equal(0, outOfOrder);
        Assert.Equal(Publishers * PerPublisher, total);
        Assert.Equal(0, dropped);
        // The flood (20 MB) is far more than the queue (1 MB) and the socket buffers hold: it
        // got through only because publishers were made to wait.
        Assert.True(throttled > 0, "No publish was throttled: the test did not exercise back-pressure.");
    }

    /// <summary>basic.publish to amq.topic without confirms, as fast as the socket takes them.</summary>
    private static async Task FloodAmqpAsync(int port, string routingKey)
    {
        var padding = new string('x', PayloadSize - 8);
        await using var connection = await ConfirmingPublisher.ConnectAsync(port);
        await using var channel = await connection.CreateChannelAsync();
        var properties = new BasicProperties();
        for (var seq = 0; seq < PerPublisher; seq++)
        {
            await channel.BasicPublishAsync("amq.topic", routingKey, mandatory: false, properties, Encoding.UTF8.GetBytes($"{seq:D7}|{padding}"));
        }

        // channel.close / close-ok: the broker has read every publish before it.
        await channel.CloseAsync(200, "done", abort: false);
    }

    /// <summary>QoS 0 publishes in batches, as fast as the socket takes them; the payload starts with the sequence number.</summary>
    private static async Task FloodAsync(WireClient client, string topic, int publisher)
    {
        var padding = new string('x', PayloadSize - 8);
        for (var seq = 0; seq < PerPublisher; seq += Batch)
        {
            var batch = new List<byte>();
            for (var i = seq; i < seq + Batch; i++)
            {
                batch.AddRange(client.BuildPublish(topic, $"{i:D7}|{padding}", 0, 0));
            }

            await client.SendAsync([.. batch]);
        }

        GC.KeepAlive(publisher);
    }

    private static async Task<TcpClient> SubscribeAsync(int port, string filter)
    {
        var tcp = new TcpClient { ReceiveBufferSize = 16 * 1024, NoDelay = true };
        await tcp.ConnectAsync("127.0.0.1", port);
        var id = Encoding.UTF8.GetBytes("slow-" + Guid.NewGuid().ToString("N")[..8]);
        var connect = new List<byte> { 0x10, (byte)(12 + id.Length), 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0x02, 0, 60, 0, (byte)id.Length };
        connect.AddRange(id);
        var bytes = Encoding.UTF8.GetBytes(filter);
        var subscribe = new List<byte> { 0x82, (byte)(5 + bytes.Length), 0, 1, 0, (byte)bytes.Length };
        subscribe.AddRange(bytes);
        subscribe.Add(0);
        var stream = tcp.GetStream();
        await stream.WriteAsync(connect.ToArray());
        await stream.WriteAsync(subscribe.ToArray());
        var acks = new byte[9];
        await stream.ReadExactlyAsync(acks);
        Assert.Equal((0x20, 0x90), (acks[0], acks[4]));
        return tcp;
    }

    /// <summary>
    /// Reads 32 KiB, then pauses a millisecond: alive and draining, but slower than the publishers.
    /// Counts QoS 0 PUBLISHes per publisher (the topic's last level) and checks each one's order.
    /// </summary>
    private static async Task<(int[] Counts, int OutOfOrder, int Total)> ReadSlowlyAsync(NetworkStream stream, int expected)
    {
        var counts = new int[Publishers];
        var outOfOrder = 0;
        var buffer = new byte[256 * 1024];
        var filled = 0;
        var total = 0;
        // Stops at the last message of every publisher: a lost one shows as a gap, not as a hang.
        while (total < expected && counts.Any(c => c < PerPublisher))
        {
            int read;
            using (var quiet = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                try
                {
                    read = await stream.ReadAsync(buffer.AsMemory(filled, Math.Min(32 * 1024, buffer.Length - filled)), quiet.Token);
                }
                catch (OperationCanceledException)
                {
                    break; // nothing more is coming: what was lost shows in the counts
                }
            }

            if (read == 0)
            {
                break;
            }

            filled += read;
            var offset = 0;
            while (TryPacket(buffer.AsSpan(offset, filled - offset), out var type, out var body, out var size))
            {
                if (type == 3)
                {
                    var topicLength = BinaryPrimitives.ReadUInt16BigEndian(body);
                    var topic = body.Slice(2, topicLength);
                    var publisher = topic[^1] - '0';
                    var seq = int.Parse(body.Slice(2 + topicLength, 7), provider: null);
                    if (seq != counts[publisher])
                    {
                        outOfOrder++;
                    }

                    counts[publisher] = seq + 1;
                    total++;
                }

                offset += size;
            }

            buffer.AsSpan(offset, filled - offset).CopyTo(buffer);
            filled -= offset;
            await Task.Delay(1);
        }

        return (counts, outOfOrder, total);
    }

    private static bool TryPacket(ReadOnlySpan<byte> data, out int type, out ReadOnlySpan<byte> body, out int size)
    {
        type = 0;
        body = default;
        size = 0;
        var length = 0;
        var shift = 0;
        for (var i = 1; i < 5; i++)
        {
            if (i >= data.Length)
            {
                return false;
            }

            length |= (data[i] & 0x7F) << shift;
            shift += 7;
            if ((data[i] & 0x80) == 0)
            {
                size = i + 1 + length;
                if (data.Length < size)
                {
                    return false;
                }

                type = data[0] >> 4;
                body = data.Slice(i + 1, length);
                return true;
            }
        }

        throw new InvalidDataException("Remaining length longer than four bytes.");
    }
}
