using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Cicada.Amqp.Tests;

/// <summary>SIGTERM: every AMQP connection is sent connection.close 320 CONNECTION_FORCED before its socket closes (§connection.close, RabbitMQ's shutdown).</summary>
public sealed class GracefulStopTests
{
    [Fact]
    public async Task Sigterm_SendsConnectionClose320_ToEveryConnection_AndExits0()
    {
        using var server = new CicadaProcess();
        await server.StartAsync();
        var factory = new ConnectionFactory { HostName = "127.0.0.1", Port = server.AmqpPort, AutomaticRecoveryEnabled = false };
        var reasons = new List<TaskCompletionSource<ShutdownEventArgs>>();
        var connections = new List<IConnection>();
        for (var i = 0; i < 3; i++)
        {
            var connection = await factory.CreateConnectionAsync();
            var channel = await connection.CreateChannelAsync();
            await channel.QueueDeclareAsync("", false, true, true);
            var closed = new TaskCompletionSource<ShutdownEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
            connection.ConnectionShutdownAsync += (_, e) =>
            {
                closed.TrySetResult(e);
                return Task.CompletedTask;
            };
            reasons.Add(closed);
            connections.Add(connection);
        }

        var exitCode = await server.TerminateAsync();

        foreach (var closed in reasons)
        {
            var reason = await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(reason.ReplyCode == 320 && reason.Initiator == ShutdownInitiator.Peer,
                $"closed by {reason.Initiator} with {reason.ReplyCode} {reason.ReplyText}\n{server.Output}");
        }

        Assert.Equal(0, exitCode);
        foreach (var connection in connections)
        {
            connection.Dispose();
        }
    }
}
