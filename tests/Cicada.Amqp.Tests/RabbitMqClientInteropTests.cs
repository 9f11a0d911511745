using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Cicada.Amqp.Tests;

/// <summary>The official .NET client, RabbitMQ.Client 7, against the real server.</summary>
public sealed class RabbitMqClientInteropTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private Task<IConnection> ConnectAsync(string user = "guest", string password = "guest") =>
        new ConnectionFactory { HostName = "127.0.0.1", Port = fixture.Server.AmqpPort, UserName = user, Password = password }
            .CreateConnectionAsync();

    private static CreateChannelOptions Confirms => new(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true);

    [Fact]
    public async Task Connection_AdvertisesRabbitMqCapabilities()
    {
        await using var connection = await ConnectAsync();

        var capabilities = (IDictionary<string, object?>)connection.ServerProperties!["capabilities"]!;
        foreach (var name in new[] { "publisher_confirms", "basic.nack", "consumer_cancel_notify", "connection.blocked" })
        {
            Assert.Equal(true, capabilities[name]);
        }
    }

    [Fact]
    public async Task ConfirmedPublish_ThenConsumeAndAck_DeliversInOrderWithProperties()
    {
        await using var connection = await ConnectAsync();
        await using var channel = await connection.CreateChannelAsync(Confirms);
        var queue = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
        await channel.QueueBindAsync(queue, "amq.direct", "rk-" + queue);

        for (var i = 0; i < 50; i++)
        {
            var props = new BasicProperties { ContentType = "text/plain", MessageId = $"id-{i}", Persistent = true, Headers = new Dictionary<string, object?> { ["i"] = i } };
            // With confirmation tracking, the call completes on basic.ack and throws on basic.nack.
            await channel.BasicPublishAsync("amq.direct", "rk-" + queue, mandatory: true, props, Encoding.UTF8.GetBytes($"m{i}"));
        }

        var received = new List<string>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, e) =>
        {
            Assert.Equal($"id-{received.Count}", e.BasicProperties.MessageId);
            Assert.Equal(received.Count, e.BasicProperties.Headers!["i"]);
            Assert.Equal("amq.direct", e.Exchange);
            received.Add(Encoding.UTF8.GetString(e.Body.Span));
            await channel.BasicAckAsync(e.DeliveryTag, multiple: false);
            if (received.Count == 50)
            {
                all.TrySetResult();
            }
        };
        await channel.BasicConsumeAsync(queue, autoAck: false, consumer);

        await all.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"m{i}"), received);
        Assert.Equal(0u, await channel.MessageCountAsync(queue));
    }

    [Fact]
    public async Task MandatoryUnroutablePublish_IsReturnedWith312()
    {
        await using var connection = await ConnectAsync();
        await using var channel = await connection.CreateChannelAsync(Confirms);
        var returned = new TaskCompletionSource<BasicReturnEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        channel.BasicReturnAsync += (_, e) =>
        {
            returned.TrySetResult(e);
            return Task.CompletedTask;
        };

        await Assert.ThrowsAsync<PublishReturnException>(async () =>
            await channel.BasicPublishAsync("amq.direct", "nobody-" + Guid.NewGuid(), mandatory: true, new BasicProperties(), "x"u8.ToArray()));

        var e = await returned.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(312, e.ReplyCode);
        Assert.Equal("NO_ROUTE", e.ReplyText);
    }

    [Fact]
    public async Task BasicGet_GetEmpty_AndRejectRequeue_MarksRedelivered()
    {
        await using var connection = await ConnectAsync();
        await using var channel = await connection.CreateChannelAsync();
        var queue = (await channel.QueueDeclareAsync("", false, true, true)).QueueName;

        Assert.Null(await channel.BasicGetAsync(queue, autoAck: false));
        await channel.BasicPublishAsync("", queue, "hello"u8.ToArray());
        var first = await GetAsync(channel, queue);
        Assert.False(first.Redelivered);
        await channel.BasicRejectAsync(first.DeliveryTag, requeue: true);
        var again = await GetAsync(channel, queue);
        Assert.True(again.Redelivered);
        Assert.Equal("hello", Encoding.UTF8.GetString(again.Body.Span));
        await channel.BasicAckAsync(again.DeliveryTag, false);
    }

    [Fact]
    public async Task ChannelError_406_ClosesOnlyThatChannel()
    {
        await using var connection = await ConnectAsync();
        await using var bad = await connection.CreateChannelAsync();
        await using var good = await connection.CreateChannelAsync();
        var name = "x-" + Guid.NewGuid();
        await bad.ExchangeDeclareAsync(name, ExchangeType.Direct, durable: false, autoDelete: true);

        var ex = await Assert.ThrowsAsync<OperationInterruptedException>(() =>
            bad.ExchangeDeclareAsync(name, ExchangeType.Fanout, durable: false, autoDelete: true));

        Assert.Equal(406, ex.ShutdownReason!.ReplyCode);
        Assert.True(bad.IsClosed);
        Assert.True(good.IsOpen);
        Assert.True(connection.IsOpen);
        await good.QueueDeclareAsync("", false, true, true);
    }

    [Fact]
    public async Task BadCredentials_AreRefusedWith403()
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync("nobody", "wrong"));

        var refused = Assert.IsType<AuthenticationFailureException>(ex.InnerException);
        Assert.Contains("ACCESS_REFUSED", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AmqTopic_AmqpPublish_ReachesAnotherQueueBoundWithWildcards()
    {
        await using var connection = await ConnectAsync();
        await using var channel = await connection.CreateChannelAsync(Confirms);
        var queue = (await channel.QueueDeclareAsync("", false, true, true)).QueueName;
        await channel.QueueBindAsync(queue, "amq.topic", "devices.*.state");
        await channel.QueueBindAsync(queue, "amq.topic", "alarms.#.critical"); // '#' mid-key: widened in Core, checked exactly

        await channel.BasicPublishAsync("amq.topic", "devices.lamp.state", "on"u8.ToArray());
        await channel.BasicPublishAsync("amq.topic", "devices.lamp.power", "5W"u8.ToArray());
        await channel.BasicPublishAsync("amq.topic", "alarms.house.fire.critical", "fire"u8.ToArray());
        await channel.BasicPublishAsync("amq.topic", "alarms.house.minor", "dust"u8.ToArray());

        var first = await GetAsync(channel, queue);
        var second = await GetAsync(channel, queue);
        Assert.Equal(("devices.lamp.state", "on"), (first.RoutingKey, Encoding.UTF8.GetString(first.Body.Span)));
        Assert.Equal(("alarms.house.fire.critical", "fire"), (second.RoutingKey, Encoding.UTF8.GetString(second.Body.Span)));
        await Task.Delay(200);
        Assert.Null(await channel.BasicGetAsync(queue, autoAck: true));
    }

    private static async Task<BasicGetResult> GetAsync(IChannel channel, string queue)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (true)
        {
            var result = await channel.BasicGetAsync(queue, autoAck: false);
            if (result is not null)
            {
                return result;
            }

            Assert.True(DateTime.UtcNow < deadline, $"nothing arrived in {queue}");
            await Task.Delay(50);
        }
    }
}
