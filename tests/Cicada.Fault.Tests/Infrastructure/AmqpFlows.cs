using System.Net.Sockets;
using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Cicada.Fault.Tests.Infrastructure;

/// <summary>
/// A publisher on a confirm channel (RabbitMQ's publisher confirms) that keeps a window of
/// unconfirmed messages in flight and remembers, across connections, which messages the broker
/// confirmed (basic.ack, possibly <c>multiple</c>). An unconfirmed or nacked message is published
/// again on the next connection, as a real at-least-once publisher does.
/// </summary>
public sealed class ConfirmingPublisher(string exchange, string routingKey, IReadOnlyList<string> payloads, int window = 20)
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<ulong, int> _outstanding = [];
    private readonly HashSet<int> _confirmed = [];
    private readonly SemaphoreSlim _changed = new(0);

    public int ConfirmedCount
    {
        get
        {
            lock (_lock)
            {
                return _confirmed.Count;
            }
        }
    }

    public int NackCount { get; private set; }

    public bool Done => ConfirmedCount == payloads.Count;

    public IReadOnlyList<string> Confirmed
    {
        get
        {
            lock (_lock)
            {
                return [.. _confirmed.Order().Select(i => payloads[i])];
            }
        }
    }

    public static Task<IConnection> ConnectAsync(int port) =>
        new ConnectionFactory { HostName = "127.0.0.1", Port = port, AutomaticRecoveryEnabled = false, TopologyRecoveryEnabled = false }
            .CreateConnectionAsync();

    /// <summary>
    /// Publishes every message not yet confirmed, on one connection, and waits for their confirms;
    /// <paramref name="onConfirmed"/> runs after each publish with the confirmed count (it may kill
    /// the broker). Returns false when the connection ended before everything was confirmed.
    /// </summary>
    public async Task<bool> RunAsync(int port, Func<int, Task>? onConfirmed = null)
    {
        await using var connection = await ConnectAsync(port);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(
            publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: false));
        channel.BasicAcksAsync += (_, e) => Settle(e.DeliveryTag, e.Multiple, ack: true);
        channel.BasicNacksAsync += (_, e) => Settle(e.DeliveryTag, e.Multiple, ack: false);
        lock (_lock)
        {
            _outstanding.Clear(); // tags of an earlier connection mean nothing on this one
        }

        List<int> todo;
        lock (_lock)
        {
            todo = [.. Enumerable.Range(0, payloads.Count).Where(i => !_confirmed.Contains(i))];
        }

        try
        {
            foreach (var index in todo)
            {
                while (Outstanding() >= window)
                {
                    if (!connection.IsOpen)
                    {
                        return false;
                    }

                    await _changed.WaitAsync(TimeSpan.FromMilliseconds(200));
                }

                var tag = await channel.GetNextPublishSequenceNumberAsync();
                lock (_lock)
                {
                    _outstanding[tag] = index;
                }

                var properties = new BasicProperties { Persistent = true, MessageId = payloads[index] };
                await channel.BasicPublishAsync(exchange, routingKey, mandatory: false, properties, Encoding.UTF8.GetBytes(payloads[index]));
                if (onConfirmed is not null)
                {
                    await onConfirmed(ConfirmedCount);
                }
            }

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (Outstanding() > 0 && connection.IsOpen && DateTime.UtcNow < deadline)
            {
                await _changed.WaitAsync(TimeSpan.FromMilliseconds(200));
                if (onConfirmed is not null)
                {
                    await onConfirmed(ConfirmedCount);
                }
            }

            return Outstanding() == 0 && connection.IsOpen;
        }
        catch (Exception ex) when (IsConnectionLoss(ex))
        {
            return false;
        }
    }

    public static bool IsConnectionLoss(Exception ex) =>
        ex is RabbitMQClientException or IOException or SocketException or ObjectDisposedException or OperationCanceledException;

    private int Outstanding()
    {
        lock (_lock)
        {
            return _outstanding.Count;
        }
    }

    private Task Settle(ulong tag, bool multiple, bool ack)
    {
        lock (_lock)
        {
            var settled = multiple ? _outstanding.Keys.TakeWhile(k => k <= tag).ToList() : [tag];
            foreach (var key in settled)
            {
                if (_outstanding.Remove(key, out var index))
                {
                    if (ack)
                    {
                        _confirmed.Add(index);
                    }
                    else
                    {
                        NackCount++;
                    }
                }
            }
        }

        _changed.Release();
        return Task.CompletedTask;
    }
}

/// <summary>What a durable queue holds: every message taken with basic.get (auto-ack) until it is empty.</summary>
public static class AmqpDrain
{
    public static async Task<List<(string Body, bool Redelivered)>> AllAsync(int port, string queue)
    {
        await using var connection = await ConfirmingPublisher.ConnectAsync(port);
        await using var channel = await connection.CreateChannelAsync();
        var taken = new List<(string, bool)>();
        while (await channel.BasicGetAsync(queue, autoAck: true) is { } result)
        {
            taken.Add((Encoding.UTF8.GetString(result.Body.Span), result.Redelivered));
        }

        return taken;
    }

    /// <summary>A consumer that acknowledges its first <paramref name="acknowledge"/> deliveries and holds the rest.</summary>
    public sealed class HoldingConsumer(IChannel channel, int acknowledge) : AsyncDefaultBasicConsumer(channel)
    {
        private readonly Lock _lock = new();

        public List<string> Acknowledged { get; } = [];

        public List<string> Held { get; } = [];

        public int Count
        {
            get
            {
                lock (_lock)
                {
                    return Acknowledged.Count + Held.Count;
                }
            }
        }

        public override async Task HandleBasicDeliverAsync(string consumerTag, ulong deliveryTag, bool redelivered, string exchange,
            string routingKey, IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
        {
            var text = Encoding.UTF8.GetString(body.Span);
            bool ack;
            lock (_lock)
            {
                ack = Acknowledged.Count < acknowledge;
                (ack ? Acknowledged : Held).Add(text);
            }

            if (ack)
            {
                await Channel.BasicAckAsync(deliveryTag, multiple: false, cancellationToken);
            }
        }
    }
}
