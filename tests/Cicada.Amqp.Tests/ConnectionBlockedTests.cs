using System.Net;
using System.Reflection;
using Cicada.Core;
using Cicada.Core.Auth;
using Cicada.Core.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Cicada.Amqp.Tests;

/// <summary>
/// RabbitMQ's connection.blocked / connection.unblocked extension: when the store refuses durable
/// writes (disk full, I/O error) publishers are told, and told again when it accepts them. The
/// broker runs in process (Core + the AMQP edge on Kestrel) over a store whose writes the test
/// makes fail; RabbitMQ.Client is the real client.
/// </summary>
public sealed class ConnectionBlockedTests
{
    [Fact]
    public async Task StoreFailure_NacksAndSendsConnectionBlocked_RecoverySendsUnblocked()
    {
        var faults = new StoreFaults();
        var port = Net.FreeTcpPort();
        await using var app = BuildBroker(port, faults);
        await app.StartAsync();

        var factory = new ConnectionFactory { HostName = "127.0.0.1", Port = port, AutomaticRecoveryEnabled = false };
        await using var connection = await factory.CreateConnectionAsync();
        var blocked = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var unblocked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.ConnectionBlockedAsync += (_, e) =>
        {
            blocked.TrySetResult(e.Reason);
            return Task.CompletedTask;
        };
        connection.ConnectionUnblockedAsync += (_, _) =>
        {
            unblocked.TrySetResult();
            return Task.CompletedTask;
        };
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await channel.QueueDeclareAsync("blocked-q", durable: true, exclusive: false, autoDelete: false);
        var persistent = new BasicProperties { Persistent = true };
        await channel.BasicPublishAsync("", "blocked-q", false, persistent, "stored"u8.ToArray());

        faults.Failing = true;
        await Assert.ThrowsAsync<PublishException>(async () =>
            await channel.BasicPublishAsync("", "blocked-q", false, persistent, "refused"u8.ToArray()));
        var reason = await blocked.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("store", reason, StringComparison.Ordinal);
        Assert.False(unblocked.Task.IsCompleted);

        faults.Failing = false;
        await unblocked.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await channel.BasicPublishAsync("", "blocked-q", false, persistent, "stored-again"u8.ToArray());
        var bodies = new List<string>();
        while (await channel.BasicGetAsync("blocked-q", autoAck: true) is { } got)
        {
            bodies.Add(System.Text.Encoding.UTF8.GetString(got.Body.Span));
        }

        // A nack promises nothing either way (the refused one may still be held in memory): the confirmed ones are there.
        Assert.Contains("stored", bodies);
        Assert.Contains("stored-again", bodies);
    }

    private static WebApplication BuildBroker(int port, StoreFaults faults)
    {
        var configuration = new ConfigurationBuilder().Build();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, lo => lo.UseConnectionHandler<AmqpConnectionHandler>()));
        builder.Services.AddSingleton(FaultyStore.Wrap<IBrokerStore>(new MemoryBrokerStore(), faults));
        builder.Services.AddSingleton(FaultyStore.Wrap<ITopologyStore>(new MemoryTopologyStore(), faults));
        builder.Services.AddSingleton<IAuthenticator, AllowEveryone>();
        builder.Services.AddCicadaCore(configuration);
        builder.Services.AddCicadaAmqp(configuration);
        return builder.Build();
    }

    private sealed class AllowEveryone : IAuthenticator
    {
        public ValueTask<AuthResult> AuthenticateAsync(AuthRequest request, CancellationToken cancellationToken) => ValueTask.FromResult(AuthResult.Allowed);
    }
}

/// <summary>The switch: while set, every store write fails as a full disk makes it fail.</summary>
internal sealed class StoreFaults
{
    public volatile bool Failing;
}

/// <summary>A store whose writes (methods returning a plain <see cref="Task"/>) fault while <see cref="StoreFaults.Failing"/>; reads pass.</summary>
public class FaultyStore : DispatchProxy
{
    private object _target = null!;
    private StoreFaults _faults = null!;

    internal static T Wrap<T>(T target, StoreFaults faults)
        where T : class
    {
        var proxy = Create<T, FaultyStore>();
        var faulty = (FaultyStore)(object)proxy;
        faulty._target = target;
        faulty._faults = faults;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (_faults.Failing && targetMethod!.ReturnType == typeof(Task) && targetMethod.Name != "InitializeAsync")
        {
            return Task.FromException(new IOException("No space left on device (injected by the test)"));
        }

        try
        {
            return targetMethod!.Invoke(_target, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            throw ex.InnerException;
        }
    }
}
