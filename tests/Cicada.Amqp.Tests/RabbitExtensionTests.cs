using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Cicada.Amqp.Tests;

/// <summary>RabbitMQ.Client 7 against the real server: tx (AMQP 0-9-1 §1.9) and RabbitMQ's extensions.</summary>
public sealed class RabbitExtensionTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private Task<IConnection> ConnectAsync() =>
        new ConnectionFactory { HostName = "127.0.0.1", Port = fixture.Server.AmqpPort }.CreateConnectionAsync();

    [Fact]
    public async Task Capabilities_AnnounceExchangeExchangeBindings_AndConnectionBlocked()
    {
        await using var connection = await ConnectAsync();

        var capabilities = (IDictionary<string, object?>)connection.ServerProperties!["capabilities"]!;
        Assert.Equal(true, capabilities["exchange_exchange_bindings"]);
        Assert.Equal(true, capabilities["connection.blocked"]);
    }

    [Fact]
    public async Task Tx_1_9_CommitAppliesPublishes_AndReturnsUnroutableMandatoryOnesThen()
    {
        await using var connection = await ConnectAsync();
        await using var channel = await connection.CreateChannelAsync();
        var queue = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
        var returned = new TaskCompletionSource<(ushort Code, string Body)>(TaskCreationOptions.RunContinuationsAsynchronously);
        channel.BasicReturnAsync += (_, e) =>
        {
            // The body's memory is the client's only during the handler.
            returned.TrySetResult((e.ReplyCode, Encoding.UTF8.GetString(e.Body.Span)));
            return Task.CompletedTask;
        };

        await channel.TxSelectAsync();
        for (var i = 0; i < 3; i++)
        {
            await channel.BasicPublishAsync("", queue, mandatory: true, new BasicProperties { MessageId = $"m{i}" }, Encoding.UTF8.GetBytes($"m{i}"));
        }

        await channel.BasicPublishAsync("amq.direct", "nobody-" + queue, mandatory: true, new BasicProperties(), "lost"u8.ToArray());
        Assert.Equal(0u, await channel.MessageCountAsync(queue));
        Assert.False(returned.Task.IsCompleted, "basic.return before tx.commit");

        await channel.TxCommitAsync();

        Assert.Equal(3u, await channel.MessageCountAsync(queue));
        var back = await returned.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((312, "lost"), back);
    }

    [Fact]
    public async Task Tx_SelectOnConfirmChannel_Is406PreconditionFailed()
    {
        await using var connection = await ConnectAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));

        var error = await Assert.ThrowsAsync<OperationInterruptedException>(() => channel.TxSelectAsync());

        Assert.Equal(406, error.ShutdownReason!.ReplyCode);
        Assert.True(connection.IsOpen);
    }

    [Fact]
    public async Task ExchangeBind_HeadersSourceToTopicDestination_RoutesOnce()
    {
        await using var connection = await ConnectAsync();
        await using var channel = await connection.CreateChannelAsync();
        var source = "e2e-h-" + Guid.NewGuid().ToString("N")[..8];
        var destination = "e2e-t-" + Guid.NewGuid().ToString("N")[..8];
        await channel.ExchangeDeclareAsync(source, ExchangeType.Headers, durable: false, autoDelete: false);
        await channel.ExchangeDeclareAsync(destination, ExchangeType.Topic, durable: false, autoDelete: false);
        var queue = (await channel.QueueDeclareAsync("", false, true, true)).QueueName;
        await channel.QueueBindAsync(queue, destination, "sensor.#");
        await channel.ExchangeBindAsync(destination, source, "", new Dictionary<string, object?> { ["kind"] = "temp" });

        await channel.BasicPublishAsync(source, "sensor.a", false, new BasicProperties { Headers = new Dictionary<string, object?> { ["kind"] = "temp" } }, "hit"u8.ToArray());
        await channel.BasicPublishAsync(source, "sensor.b", false, new BasicProperties { Headers = new Dictionary<string, object?> { ["kind"] = "door" } }, "miss"u8.ToArray());
        await channel.BasicPublishAsync(source, "other.c", false, new BasicProperties { Headers = new Dictionary<string, object?> { ["kind"] = "temp" } }, "miss2"u8.ToArray());

        BasicGetResult? got = null;
        for (var i = 0; i < 100 && got is null; i++)
        {
            got = await channel.BasicGetAsync(queue, autoAck: true);
            if (got is null)
            {
                await Task.Delay(50);
            }
        }

        Assert.Equal("hit", Encoding.UTF8.GetString(got!.Body.Span));
        Assert.Equal(source, got.Exchange); // delivered with the exchange it was published to, as RabbitMQ does
        await Task.Delay(200);
        Assert.Null(await channel.BasicGetAsync(queue, autoAck: true));
        await channel.ExchangeDeleteAsync(destination);
        await channel.ExchangeDeleteAsync(source);
    }
}
