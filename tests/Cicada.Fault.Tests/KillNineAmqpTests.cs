using Cicada.Fault.Tests.Infrastructure;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace Cicada.Fault.Tests;

/// <summary>
/// <c>kill -9</c> of the broker under AMQP 0-9-1 traffic on a durable queue, and a restart on the
/// same SQLite data folder (RabbitMQ.Client as the client). The promise (DESIGN.md "Durability"):
/// a persistent message the broker confirmed with basic.ack (RabbitMQ publisher confirms) is on
/// disk, so it is in the queue after any crash; a delivery a consumer had not acknowledged comes
/// back, flagged redelivered (§basic.deliver redelivered, §basic.ack: unacknowledged messages are
/// requeued when the channel closes).
/// </summary>
public sealed class KillNineAmqpTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(31)]
    [InlineData(32)]
    public async Task Publisher_side_crash_loses_no_confirmed_persistent_message_AMQP_confirm(int seed)
    {
        const int count = 300;
        var random = new Random(seed);
        var first = random.Next(10, count / 2);
        int[] killPoints = [first, random.Next(first + 10, count - 10)];
        await using var server = await CicadaProcess.StartAsync(new ServerSettings { Amqp = true });
        var queue = $"fault-pub-{Guid.NewGuid():N}";
        await DeclareAsync(server.AmqpPort, queue);

        var payloads = Enumerable.Range(0, count).Select(i => $"a{i:D4}").ToList();
        var publisher = new ConfirmingPublisher("amq.direct", queue, payloads);
        var crashes = 0;
        var runs = 0;
        while (!publisher.Done)
        {
            Assert.True(++runs < 10, $"No progress after {runs} connections.\n{server.Output}");
            var killed = false;
            var completed = await publisher.RunAsync(server.AmqpPort, async confirmed =>
            {
                if (!killed && crashes < killPoints.Length && confirmed >= killPoints[crashes])
                {
                    killed = true;
                    await server.KillAsync();
                }
            });

            if (killed)
            {
                crashes++;
                await server.StartAsync();
            }
            else
            {
                Assert.True(completed || publisher.Done, $"The publisher's connection ended without a crash.\n{server.Output}");
            }
        }

        var confirmed = publisher.Confirmed;
        var taken = await AmqpDrain.AllAsync(server.AmqpPort, queue);
        var bodies = taken.Select(t => t.Body).ToList();
        output.WriteLine($"seed {seed}: {crashes} crashes at confirms {string.Join(", ", killPoints)}; {confirmed.Count} confirmed " +
            $"({publisher.NackCount} nacks), {bodies.Count} in the queue ({bodies.Distinct().Count()} distinct)");
        Assert.Equal(2, crashes);
        var missing = confirmed.Except(bodies).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} confirmed messages lost: {string.Join(", ", missing.Take(20))}\n{server.Output}");
    }

    /// <summary>
    /// A consumer acknowledges the first deliveries and holds a prefetch window of others when the
    /// broker dies. Held deliveries come back with redelivered set; nothing unacknowledged is lost.
    /// With <paramref name="settled"/>, a confirmed publish on the same connection precedes the kill:
    /// the broker handles frames in order and commits writes in order, so that confirm proves the
    /// acks' removals and the deliveries' "sent" marks reached the disk, and the outcome is exact
    /// (no acknowledged message back, every held one flagged). Without it the kill lands anywhere
    /// and only at-least-once holds; the duplicates are counted (removal is group-committed).
    /// </summary>
    [Theory]
    [InlineData(41, true)]
    [InlineData(42, true)]
    [InlineData(43, false)]
    public async Task Consumer_side_crash_requeues_unacknowledged_deliveries_redelivered_AMQP_basic_deliver(int seed, bool settled)
    {
        const int count = 200;
        const ushort prefetch = 25;
        var acknowledge = new Random(seed).Next(20, count - prefetch - 20);
        await using var server = await CicadaProcess.StartAsync(new ServerSettings { Amqp = true });
        var queue = $"fault-con-{Guid.NewGuid():N}";
        await DeclareAsync(server.AmqpPort, queue);
        var payloads = Enumerable.Range(0, count).Select(i => $"c{i:D4}").ToList();
        var publisher = new ConfirmingPublisher("amq.direct", queue, payloads);
        Assert.True(await publisher.RunAsync(server.AmqpPort), $"Publishing failed.\n{server.Output}");

        AmqpDrain.HoldingConsumer consumer;
        await using (var connection = await ConfirmingPublisher.ConnectAsync(server.AmqpPort))
        {
            await using var channel = await connection.CreateChannelAsync();
            await channel.BasicQosAsync(0, prefetch, global: false);
            consumer = new AmqpDrain.HoldingConsumer(channel, acknowledge);
            await channel.BasicConsumeAsync(queue, autoAck: false, consumer);
            await Until(() => consumer.Count >= acknowledge + prefetch, "the consumer to hold a full prefetch window", server);
            if (settled)
            {
                await using var marker = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
                var markerQueue = (await marker.QueueDeclareAsync($"{queue}-marker", durable: true, exclusive: false, autoDelete: false)).QueueName;
                await marker.BasicPublishAsync("", markerQueue, mandatory: true, new BasicProperties { Persistent = true }, "marker"u8.ToArray());
            }

            await server.KillAsync();
        }

        await server.StartAsync();
        var taken = await AmqpDrain.AllAsync(server.AmqpPort, queue);
        var bodies = taken.Select(t => t.Body).ToList();
        var unacknowledged = payloads.Except(consumer.Acknowledged).ToList();
        var duplicates = bodies.Intersect(consumer.Acknowledged).Count();
        output.WriteLine($"seed {seed} ({(settled ? "settled" : "unsettled")}): {consumer.Acknowledged.Count} acked, {consumer.Held.Count} held at the kill; " +
            $"after restart {bodies.Count} in the queue, {taken.Count(t => t.Redelivered)} redelivered, {duplicates} acknowledged ones back");

        var missing = unacknowledged.Except(bodies).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} unacknowledged messages lost: {string.Join(", ", missing.Take(20))}\n{server.Output}");
        Assert.Equal(bodies.Count, bodies.Distinct().Count());
        if (settled)
        {
            Assert.Equal(prefetch, consumer.Held.Count);
            Assert.True(duplicates == 0, $"{duplicates} acknowledged messages came back although a later confirm proved their removal stored.");
            var notFlagged = taken.Where(t => consumer.Held.Contains(t.Body) && !t.Redelivered).Select(t => t.Body).ToList();
            Assert.True(notFlagged.Count == 0, $"Held deliveries came back without redelivered: {string.Join(", ", notFlagged)}");

            // Held ones come first (requeued ahead of the rest), in their original order.
            Assert.Equal(consumer.Held, bodies.Take(consumer.Held.Count));
        }
    }

    private static async Task DeclareAsync(int port, string queue)
    {
        await using var connection = await ConfirmingPublisher.ConnectAsync(port);
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(queue, "amq.direct", queue);
    }

    private static async Task Until(Func<bool> condition, string what, CicadaProcess server)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}.\n{server.Output}");
            await Task.Delay(20);
        }
    }
}
