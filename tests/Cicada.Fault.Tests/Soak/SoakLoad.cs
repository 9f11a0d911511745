using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Cicada.Fault.Tests.Infrastructure;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Cicada.Fault.Tests.Soak;

/// <summary>What one protocol's publishers did: messages sent, acknowledged (by id) and refused.</summary>
public sealed class Ledger(string protocol)
{
    private long _sent;
    private long _refused;

    public string Protocol { get; } = protocol;

    public ConcurrentDictionary<string, byte> Acknowledged { get; } = new();

    public long Sent => Interlocked.Read(ref _sent);

    public long Refused => Interlocked.Read(ref _refused);

    public string Next() => $"{Protocol}-{Interlocked.Increment(ref _sent):D8}";

    public void Ack(string id) => Acknowledged.TryAdd(id, 0);

    public void Refuse() => Interlocked.Increment(ref _refused);
}

/// <summary>A durable consumer's view: distinct ids received and every delivery counted (duplicates too).</summary>
public sealed class Inbox(string name)
{
    private long _deliveries;

    public string Name { get; } = name;

    public ConcurrentDictionary<string, byte> Received { get; } = new();

    public long Deliveries => Interlocked.Read(ref _deliveries);

    public void Add(string payload)
    {
        Interlocked.Increment(ref _deliveries);
        Received.TryAdd(payload.Split(' ', 2)[0], 0);
    }
}

/// <summary>
/// The soak's clients: QoS 1 / confirmed / CON / qos=1 publishers on every protocol with connection
/// churn, a persistent MQTT session and a durable AMQP queue that must receive every acknowledged
/// message, and a QoS 0 stream as background noise. Every loop is paced and stops at the deadline.
/// </summary>
public sealed class SoakLoad(CicadaProcess server, string run)
{
    private const int Padding = 64;
    private static readonly TimeSpan Churn = TimeSpan.FromSeconds(20);

    public Ledger Mqtt { get; } = new("mqtt");
    public Ledger Amqp { get; } = new("amqp");
    public Ledger Coap { get; } = new("coap");
    public Ledger Http { get; } = new("http");
    public Inbox MqttSession { get; } = new("mqtt-session");
    public Inbox AmqpQueue { get; } = new("amqp-queue");

    public long NoiseSent;
    public long NoiseReceived;
    public long Reconnects;

    public IEnumerable<Ledger> Ledgers => [Mqtt, Amqp, Coap, Http];

    public string Queue => $"soak-{run}";

    public async Task PrepareAsync()
    {
        await using (var subscriber = await WireClient.ConnectAsync(server.MqttPort, $"soak-sub-{run}", 5, clean: false, sessionExpiry: 86_400))
        {
            await subscriber.SubscribeAsync($"soak/{run}/#", 1);
            await subscriber.DisconnectAsync();
        }

        await using var connection = await ConfirmingPublisher.ConnectAsync(server.AmqpPort);
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(Queue, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(Queue, "amq.topic", $"soak.{run}.#");
    }

    /// <summary>Publishers run until <paramref name="publishUntil"/>; consumers until <paramref name="consumers"/> is cancelled.</summary>
    public Task[] Start(CancellationToken publishers, CancellationToken consumers) =>
    [
        Loop(publishers, ct => MqttPublisherAsync(5, 100, ct)),
        Loop(publishers, ct => MqttPublisherAsync(4, 100, ct)),
        Loop(publishers, ct => AmqpPublisherAsync(100, ct)),
        Loop(publishers, ct => CoapPublisherAsync(50, ct)),
        Loop(publishers, ct => HttpPublisherAsync(50, ct)),
        Loop(publishers, ct => NoiseAsync(500, ct)),
        Loop(consumers, MqttSessionAsync),
        Loop(consumers, AmqpConsumerAsync),
    ];

    private async Task Loop(CancellationToken token, Func<CancellationToken, Task> body)
    {
        while (!token.IsCancellationRequested)
        {
            try
            {
                await body(token);
            }
            catch (Exception ex) when (IsTransient(ex))
            {
                // A dropped connection is part of the churn: count it and connect again.
                Interlocked.Increment(ref Reconnects);
                await Task.Delay(100, CancellationToken.None);
            }
        }
    }

    private static bool IsTransient(Exception ex) =>
        ConfirmingPublisher.IsConnectionLoss(ex) || ex is TimeoutException or HttpRequestException or TaskCanceledException;

    private static string Body(string id) => $"{id} {new string('x', Padding)}";

    /// <summary>Holds a loop to <paramref name="rate"/> messages per second.</summary>
    private static async Task PaceAsync(Stopwatch clock, long count, int rate, CancellationToken token)
    {
        var due = TimeSpan.FromSeconds((double)count / rate) - clock.Elapsed;
        if (due > TimeSpan.Zero)
        {
            await Task.Delay(due, token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task MqttPublisherAsync(int version, int rate, CancellationToken token)
    {
        await using var client = await WireClient.ConnectAsync(server.MqttPort, $"soak-pub{version}-{run}", version);
        var clock = Stopwatch.StartNew();
        ushort packetId = 0;
        for (long n = 0; clock.Elapsed < Churn && !token.IsCancellationRequested; n++)
        {
            var id = Mqtt.Next();
            packetId = (ushort)(packetId % 65_000 + 1);
            await client.PublishAsync($"soak/{run}/mqtt{version}", Body(id), 1, packetId);
            var ack = await client.ReadAsync(TimeSpan.FromSeconds(30));
            if (ack.Type == WirePacket.PubAck && ack.PacketId == packetId && ack.AckReason == 0)
            {
                Mqtt.Ack(id);
            }
            else
            {
                Mqtt.Refuse();
            }

            await PaceAsync(clock, n + 1, rate, token);
        }

        await client.DisconnectAsync();
    }

    private async Task AmqpPublisherAsync(int rate, CancellationToken token)
    {
        await using var connection = await ConfirmingPublisher.ConnectAsync(server.AmqpPort);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var clock = Stopwatch.StartNew();
        for (long n = 0; clock.Elapsed < Churn && !token.IsCancellationRequested; n++)
        {
            var id = Amqp.Next();
            try
            {
                await channel.BasicPublishAsync("amq.topic", $"soak.{run}.amqp", mandatory: false,
                    new BasicProperties { Persistent = true }, Encoding.UTF8.GetBytes(Body(id)), CancellationToken.None);
                Amqp.Ack(id);
            }
            catch (RabbitMQ.Client.Exceptions.PublishException)
            {
                Amqp.Refuse();
            }

            await PaceAsync(clock, n + 1, rate, token);
        }
    }

    private async Task CoapPublisherAsync(int rate, CancellationToken token)
    {
        // A new socket per round: a new CoAP endpoint (peer) each time, CoAP's form of churn.
        using var coap = new CoapWireClient(server.CoapPort);
        var clock = Stopwatch.StartNew();
        for (long n = 0; clock.Elapsed < Churn && !token.IsCancellationRequested; n++)
        {
            var id = Coap.Next();
            var reply = await coap.RequestAsync(CoapWireClient.Post, $"ps/soak/{run}/coap", Body(id));
            if (reply is { IsSuccess: true })
            {
                Coap.Ack(id);
            }
            else
            {
                Coap.Refuse();
            }

            await PaceAsync(clock, n + 1, rate, token);
        }
    }

    private async Task HttpPublisherAsync(int rate, CancellationToken token)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var uri = new Uri($"http://127.0.0.1:{server.HttpPort}/api/v1/topics/soak/{run}/http?qos=1");
        var clock = Stopwatch.StartNew();
        for (long n = 0; clock.Elapsed < Churn && !token.IsCancellationRequested; n++)
        {
            var id = Http.Next();
            using var response = await http.PostAsync(uri, new StringContent(Body(id)), CancellationToken.None);
            if (response.IsSuccessStatusCode)
            {
                Http.Ack(id);
            }
            else
            {
                Http.Refuse();
            }

            await PaceAsync(clock, n + 1, rate, token);
        }
    }

    /// <summary>QoS 0 traffic to a live subscriber on a topic of its own: fan-out load, counted, not checked.</summary>
    private async Task NoiseAsync(int rate, CancellationToken token)
    {
        await using var subscriber = await WireClient.ConnectAsync(server.MqttPort, $"soak-noise-sub-{run}", 4);
        await subscriber.SubscribeAsync($"soaknoise/{run}/#", 0);
        var reading = Task.Run(async () =>
        {
            while (await subscriber.TryReadAsync(TimeSpan.FromSeconds(5)) is { } packet)
            {
                if (packet.Type == WirePacket.Publish)
                {
                    Interlocked.Increment(ref NoiseReceived);
                }
            }
        }, CancellationToken.None);
        await using (var publisher = await WireClient.ConnectAsync(server.MqttPort, $"soak-noise-pub-{run}", 4))
        {
            var clock = Stopwatch.StartNew();
            for (long n = 0; clock.Elapsed < Churn && !token.IsCancellationRequested; n++)
            {
                await publisher.PublishAsync($"soaknoise/{run}/{n % 10}", Body("noise"), 0);
                Interlocked.Increment(ref NoiseSent);
                await PaceAsync(clock, n + 1, rate, token);
            }

            await publisher.DisconnectAsync();
        }

        await subscriber.DisconnectAsync();
        await reading;
    }

    /// <summary>The persistent MQTT session: reconnects every round, resuming its session (queued messages arrive then).</summary>
    private async Task MqttSessionAsync(CancellationToken token)
    {
        await using var client = await WireClient.ConnectAsync(server.MqttPort, $"soak-sub-{run}", 5, clean: false, sessionExpiry: 86_400);
        if (!client.SessionPresent)
        {
            throw new InvalidOperationException("The soak subscriber's persistent session was lost.");
        }

        var receiver = new MqttReceiver();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Churn && !token.IsCancellationRequested)
        {
            if (await client.TryReadAsync(TimeSpan.FromMilliseconds(500)) is not { } packet)
            {
                if (client.Closed.IsCompleted)
                {
                    throw new IOException("The broker closed the soak subscriber's connection.");
                }

                continue;
            }

            await receiver.HandleAsync(client, packet);
            foreach (var payload in receiver.Delivered)
            {
                MqttSession.Add(payload);
            }

            receiver.Delivered.Clear();
        }

        await client.DisconnectAsync();
    }

    /// <summary>The durable AMQP queue's consumer, acknowledging each delivery; a new connection every round.</summary>
    private async Task AmqpConsumerAsync(CancellationToken token)
    {
        await using var connection = await ConfirmingPublisher.ConnectAsync(server.AmqpPort);
        await using var channel = await connection.CreateChannelAsync();
        await channel.BasicQosAsync(0, 200, global: false);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, e) =>
        {
            AmqpQueue.Add(Encoding.UTF8.GetString(e.Body.Span));
            await channel.BasicAckAsync(e.DeliveryTag, multiple: false);
        };
        await channel.BasicConsumeAsync(Queue, autoAck: false, consumer);
        await Task.Delay(Churn, token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!connection.IsOpen)
        {
            throw new IOException("The soak consumer's connection closed.");
        }

        await channel.CloseAsync();
    }

    /// <summary>Acknowledged ids that <paramref name="inbox"/> has not received.</summary>
    public List<string> Missing(Inbox inbox) => [.. Ledgers.SelectMany(l => l.Acknowledged.Keys).Where(id => !inbox.Received.ContainsKey(id))];
}
