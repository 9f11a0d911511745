using System.Text;
using RabbitMQ.Client;

namespace Cicada.Amqp.Tests;

/// <summary>
/// Across kill -9 and a restart on SQLite: a committed transaction's persistent messages (tx.commit-ok
/// only once durable, §tx.commit) and durable exchange-to-exchange bindings (stored like queue bindings).
/// </summary>
public sealed class DurableExtensionTests : IDisposable
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "cicada-amqp-durable-x-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static Task<IConnection> ConnectAsync(CicadaProcess server) =>
        new ConnectionFactory { HostName = "127.0.0.1", Port = server.AmqpPort }.CreateConnectionAsync();

    [Fact]
    public async Task TxCommit_And_DurableExchangeBinding_SurviveKill9()
    {
        const string queue = "tx-durable";
        using (var first = new CicadaProcess("sqlite", _data))
        {
            await first.StartAsync();
            await using var connection = await ConnectAsync(first);
            await using var channel = await connection.CreateChannelAsync();
            await channel.ExchangeDeclareAsync("ingress", ExchangeType.Fanout, durable: true);
            await channel.ExchangeDeclareAsync("orders-x", ExchangeType.Direct, durable: true);
            await channel.ExchangeBindAsync("orders-x", "ingress", "");
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
            await channel.QueueBindAsync(queue, "orders-x", "new");

            await channel.TxSelectAsync();
            var persistent = new BasicProperties { Persistent = true };
            await channel.BasicPublishAsync("ingress", "new", false, persistent, "committed-1"u8.ToArray());
            await channel.BasicPublishAsync("ingress", "new", false, persistent, "committed-2"u8.ToArray());
            await channel.TxCommitAsync();
            await channel.BasicPublishAsync("ingress", "new", false, persistent, "never-committed"u8.ToArray());
            first.Kill();
        }

        using var second = new CicadaProcess("sqlite", _data);
        await second.StartAsync();
        await using var again = await ConnectAsync(second);
        await using var ch = await again.CreateChannelAsync();
        var bodies = new List<string>();
        while (await ch.BasicGetAsync(queue, autoAck: true) is { } result)
        {
            bodies.Add(Encoding.UTF8.GetString(result.Body.Span));
        }

        Assert.Equal(["committed-1", "committed-2"], bodies);

        // The exchange-to-exchange binding came back: ingress still feeds the queue.
        await ch.BasicPublishAsync("ingress", "new", "after-restart"u8.ToArray());
        BasicGetResult? got = null;
        for (var i = 0; i < 100 && got is null; i++)
        {
            got = await ch.BasicGetAsync(queue, autoAck: true);
            if (got is null)
            {
                await Task.Delay(50);
            }
        }

        Assert.Equal("after-restart", Encoding.UTF8.GetString(got!.Body.Span));
        await ch.QueueDeleteAsync(queue);
    }
}
