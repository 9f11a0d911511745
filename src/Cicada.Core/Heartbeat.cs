using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;

namespace Cicada.Core;

/// <summary>Something checked once per heartbeat tick (keep-alive, connect timeout, expiry).</summary>
public interface IHeartbeatHandler
{
    void OnHeartbeat(DateTimeOffset now);
}

/// <summary>
/// One timer for the whole broker, ticking every registered handler once a second, so idle
/// connections cost no timer and no task of their own (as Kestrel's Heartbeat).
/// </summary>
public sealed class Heartbeat(TimeProvider timeProvider) : BackgroundService
{
    private readonly ConcurrentDictionary<IHeartbeatHandler, byte> _handlers = new();

    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    public void Register(IHeartbeatHandler handler) => _handlers.TryAdd(handler, 0);

    public void Unregister(IHeartbeatHandler handler) => _handlers.TryRemove(handler, out _);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Tick();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    internal void Tick()
    {
        var now = timeProvider.GetUtcNow();
        foreach (var handler in _handlers.Keys)
        {
            try
            {
                handler.OnHeartbeat(now);
            }
            catch (Exception)
            {
                // A handler's fault must not stop the heartbeat for everyone else.
                Unregister(handler);
            }
        }
    }
}
