using System.Collections.Concurrent;
using Cicada.Amqp.Routing;
using Cicada.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cicada.Amqp;

/// <summary>
/// The edge's live connections (for a graceful stop), its blocked state (RabbitMQ's
/// connection.blocked when durable work is refused) and its once-a-second chores.
/// </summary>
public sealed partial class AmqpEdge : IHeartbeatHandler
{
    private readonly ConcurrentDictionary<AmqpConnection, byte> _connections = new();
    private volatile string? _blockedReason;
    private int _probing;

    /// <summary>Why the broker refuses durable work now; null when it does not.</summary>
    internal string? BlockedReason => _blockedReason;

    internal void Track(AmqpConnection connection) => _connections.TryAdd(connection, 0);

    internal void Untrack(AmqpConnection connection) => _connections.TryRemove(connection, out _);

    /// <summary>Host stopping: every connection is sent connection.close 320 CONNECTION_FORCED.</summary>
    public void RequestStopAll()
    {
        foreach (var connection in _connections.Keys)
        {
            connection.RequestStop();
        }
    }

    /// <summary>Waits until every connection has ended (close-ok received or given up), within <paramref name="limit"/>.</summary>
    public async Task WaitForConnectionsAsync(TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;
        while (!_connections.IsEmpty && Environment.TickCount64 < deadline && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(20, CancellationToken.None);
        }
    }

    /// <summary>
    /// Watches a durable write (a publish, a commit): a store failure blocks publishers, a later
    /// success unblocks them. A queue's reject-publish refusal is no store failure.
    /// </summary>
    internal void Watch(Task durable)
    {
        if (durable.IsCompletedSuccessfully)
        {
            return;
        }

        if (durable.IsCompleted)
        {
            Observe(durable);
            return;
        }

        durable.ContinueWith(static (t, state) => ((AmqpEdge)state!).Observe(t), this, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void Observe(Task task)
    {
        if (task.IsCompletedSuccessfully)
        {
            if (_blockedReason is not null)
            {
                SetBlocked(null);
            }

            return;
        }

        var failure = task.Exception?.Flatten().InnerExceptions.FirstOrDefault(e => e is not PublishRefusedException);
        if (failure is not null)
        {
            SetBlocked("the broker's store refuses writes: " + failure.Message);
        }
    }

    private void SetBlocked(string? reason)
    {
        var previous = Interlocked.Exchange(ref _blockedReason, reason);
        if ((previous is null) == (reason is null))
        {
            return;
        }

        if (reason is not null)
        {
            AmqpLifecycleLog.Blocked(Logger, reason);
        }
        else
        {
            AmqpLifecycleLog.Unblocked(Logger);
        }

        foreach (var connection in _connections.Keys)
        {
            connection.SetBlocked(reason is not null, reason ?? string.Empty);
        }
    }

    /// <summary>Once a second: queue TTL and x-expires; while blocked, a probe write to learn when the store works again.</summary>
    void IHeartbeatHandler.OnHeartbeat(DateTimeOffset now)
    {
        Host.Sweep();
        if (_blockedReason is not null && Interlocked.Exchange(ref _probing, 1) == 0)
        {
            var probe = Host.ProbeStoreAsync(now);
            probe.ContinueWith(static (t, state) =>
            {
                var edge = (AmqpEdge)state!;
                Volatile.Write(ref edge._probing, 0);
                edge.Observe(t);
            }, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }
}

/// <summary>Starts the edge's heartbeat chores; on host stop, closes every AMQP connection with 320 before the listeners go.</summary>
internal sealed class AmqpLifecycle(AmqpEdge edge, IHostApplicationLifetime lifetime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        edge.Host.Expired = queue => AmqpLifecycleLog.QueueExpired(edge.Logger, queue.Name, queue.Limits.Expires ?? 0);
        edge.Heartbeat.Register(edge);

        // ApplicationStopping fires before any hosted service (Kestrel included) stops: clients are
        // told while their sockets are still open (RabbitMQ clients take 320 as a server shutdown).
        lifetime.ApplicationStopping.Register(edge.RequestStopAll);
        return Task.CompletedTask;
    }

    /// <summary>Runs before Core's stop (registered after it): connections end before the store closes.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => edge.WaitForConnectionsAsync(TimeSpan.FromSeconds(5), cancellationToken);
}

internal static partial class AmqpLifecycleLog
{
    [LoggerMessage(EventId = 40, Level = LogLevel.Warning, Message = "AMQP publishers blocked (connection.blocked): {Reason}")]
    public static partial void Blocked(ILogger logger, string reason);

    [LoggerMessage(EventId = 41, Level = LogLevel.Information, Message = "AMQP publishers unblocked (connection.unblocked): the store accepts writes again")]
    public static partial void Unblocked(ILogger logger);

    [LoggerMessage(EventId = 42, Level = LogLevel.Information, Message = "AMQP queue '{Queue}' deleted: unused for its x-expires of {Expires} ms")]
    public static partial void QueueExpired(ILogger logger, string queue, long expires);
}
