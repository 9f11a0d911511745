using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Cicada.Fault.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Cicada.Fault.Tests;

/// <summary>
/// A subscriber that stops reading while a publisher floods (DESIGN.md "Hot-path rules": every
/// subscriber has a bounded outbound queue with an explicit overflow policy, counted in metrics;
/// slow consumers never stall publishers or grow memory without bound).
/// </summary>
public sealed class SlowConsumerTests(ITestOutputHelper output)
{
    private const int QueueBound = 1000;
    private const int Phases = 4;
    private const int PerPhase = 12_000;
    private const int MessageCount = Phases * PerPhase;
    private const int PayloadSize = 2048;
    private const int Chunk = 400;

    [Fact]
    public async Task Stuck_subscriber_is_bounded_by_MaxQueuedMessages_counted_as_dropped_and_others_keep_their_rate()
    {
        await using var server = await CicadaProcess.StartAsync(new ServerSettings
        {
            Sqlite = false,
            Http = true,
            Environment = new Dictionary<string, string> { ["CICADA_BROKER__MAXQUEUEDMESSAGES"] = $"{QueueBound}" },
        });
        var topic = $"flood/{Guid.NewGuid():N}";
        using var stuck = await ConnectStuckSubscriberAsync(server.MqttPort, topic);
        await using var healthy = await WireClient.ConnectAsync(server.MqttPort, "healthy");
        await healthy.SubscribeAsync(topic, 1);
        var received = 0;
        var receiving = Task.Run(async () =>
        {
            var receiver = new MqttReceiver();
            while (received < MessageCount && await healthy.TryReadAsync(TimeSpan.FromSeconds(5)) is { } packet)
            {
                await receiver.HandleAsync(healthy, packet);
                Volatile.Write(ref received, receiver.Delivered.Count);
            }
        });

        var baseline = server.ResidentBytes();
        var peak = baseline;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, server.ResidentBytes());
                await Task.Delay(50);
            }
        });

        var payload = new string('p', PayloadSize);
        var watch = Stopwatch.StartNew();
        var peaks = new List<long>();
        await using (var publisher = await WireClient.ConnectAsync(server.MqttPort, "flooder"))
        {
            var sent = 0;
            for (var phase = 0; phase < Phases; phase++)
            {
                for (var chunk = 0; chunk < PerPhase / Chunk; chunk++)
                {
                    var sender = new MqttSender(topic, 1, Enumerable.Repeat(payload, Chunk).ToList(), window: 50);
                    Assert.True(await sender.PumpAsync(publisher), "The flooding publisher was cut off.");
                    sent += Chunk;

                    // Pace the flood by the healthy subscriber (it has the same queue bound): on a
                    // starved CI machine it must not overflow too, or the test would measure the
                    // machine, not the isolation of the stuck one.
                    var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                    while (Volatile.Read(ref received) < sent - Chunk && DateTime.UtcNow < deadline)
                    {
                        await Task.Delay(5);
                    }
                }

                peaks.Add(peak);
            }
        }

        var publishSeconds = watch.Elapsed.TotalSeconds;
        await receiving;
        var receiveSeconds = watch.Elapsed.TotalSeconds;
        await sampling.CancelAsync();
        await sampler;
        var dropped = await server.MetricAsync("cicada_messages_dropped_total");
        var growth = peak - baseline;
        output.WriteLine($"{MessageCount} × {PayloadSize} B published in {publishSeconds:F1} s; healthy subscriber got {received} " +
            $"({received / receiveSeconds:F0}/s); dropped {dropped}; RSS baseline {baseline >> 20} MiB, peak {peak >> 20} MiB, growth {growth >> 20} MiB");

        // Unbounded, the stuck subscriber's queue would grow by ~24 MiB of payload per phase; bounded
        // at 1,000 it holds 2 MiB, so after the first two phases (GC heap and socket buffers settling)
        // memory must plateau. The absolute bound is generous: server GC keeps headroom.
        output.WriteLine($"peak RSS after each phase: {string.Join(", ", peaks.Select(p => $"{p >> 20} MiB"))}");
        Assert.True(peaks[^1] - peaks[1] < 24L << 20, $"RSS kept growing with the volume: {string.Join(", ", peaks.Select(p => p >> 20))} MiB.");
        Assert.True(growth < 160L << 20, $"RSS grew by {growth >> 20} MiB with a queue bound of {QueueBound}.");
        Assert.True(dropped >= MessageCount - QueueBound - 1000, $"Only {dropped} deliveries were dropped for the stuck subscriber.");
        Assert.True(received == MessageCount, $"The healthy subscriber got {received} of {MessageCount}.");
        Assert.True(received / receiveSeconds > 1000, $"The healthy subscriber's rate fell to {received / receiveSeconds:F0}/s.");
        GC.KeepAlive(stuck);
    }

    /// <summary>An MQTT 3.1.1 subscriber (clean session, QoS 1) that never reads a byte after SUBSCRIBE.</summary>
    private static async Task<TcpClient> ConnectStuckSubscriberAsync(int port, string topic)
    {
        var tcp = new TcpClient { ReceiveBufferSize = 4096 };
        await tcp.ConnectAsync("127.0.0.1", port);
        var id = "stuck"u8.ToArray();
        var connect = new List<byte> { 0x10, (byte)(12 + id.Length), 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0x02, 0, 60, 0, (byte)id.Length };
        connect.AddRange(id);
        var filter = Encoding.UTF8.GetBytes(topic);
        var subscribe = new List<byte> { 0x82, (byte)(5 + filter.Length), 0, 1, 0, (byte)filter.Length };
        subscribe.AddRange(filter);
        subscribe.Add(1);
        var stream = tcp.GetStream();
        await stream.WriteAsync(connect.ToArray());
        await stream.WriteAsync(subscribe.ToArray());

        // Read CONNACK (4 bytes) and SUBACK (5 bytes), then never again.
        var acks = new byte[9];
        await stream.ReadExactlyAsync(acks);
        Assert.Equal((0x20, 0x90), (acks[0], acks[4]));
        return tcp;
    }
}
