using Cicada.Core.Sessions;
using Microsoft.Extensions.Logging;

namespace Cicada.Core;

/// <summary>
/// Broker:OverflowPolicy = backpressure. A publish that lands in a connected session's queue above
/// its high-water mark gets a task that completes when that queue is down to its low-water mark or
/// <see cref="MaxWait"/> has passed; an edge that awaits it before reading on makes the publisher's
/// own transport push back (TCP flow control), so a subscriber that is merely slower than its
/// publishers loses nothing. A subscriber that took nothing during a whole wait is stuck: it gets
/// the bounded drop-oldest queue until it takes again, so it never holds publishers back for long.
/// Core knows no protocol here: how "wait" turns into "stop reading" is each edge's business.
/// </summary>
internal sealed partial class BackpressurePolicy(TimeProvider time, TimeSpan maxWait, CicadaMetrics metrics, ILogger logger)
{
    private static readonly long LogInterval = TimeSpan.FromSeconds(10).Ticks / TimeSpan.TicksPerMillisecond;

    private readonly ILogger _logger = logger;
    private long _nextThrottleLog;
    private long _nextStuckLog;
    private long _throttledSinceLog;

    public TimeProvider Time { get; } = time;

    public TimeSpan MaxWait { get; } = maxWait;

    /// <summary>A publish waits for <paramref name="session"/> (the slow path: counted, logged at most once per 10 s).</summary>
    public void OnThrottled(Session session)
    {
        metrics.PublishesThrottled.Add(1);
        var throttled = Interlocked.Increment(ref _throttledSinceLog);
        if (TryLog(ref _nextThrottleLog))
        {
            Interlocked.Add(ref _throttledSinceLog, -throttled);
            LogThrottled(session.ClientId, throttled);
        }
    }

    /// <summary>A wait ran out (from the session's timer).</summary>
    public void OnWaitExpired(Session session, bool stuck)
    {
        metrics.BackpressureTimeouts.Add(1, new KeyValuePair<string, object?>("stuck", stuck));
        if (stuck && TryLog(ref _nextStuckLog))
        {
            LogStuck(session.ClientId, (long)MaxWait.TotalMilliseconds);
        }
    }

    private static bool TryLog(ref long next)
    {
        var now = Environment.TickCount64;
        var due = Volatile.Read(ref next);
        return now >= due && Interlocked.CompareExchange(ref next, now + LogInterval, due) == due;
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Publishers are outpacing session {ClientId}: {Count} publishes waited for its queue to drain since the last report (Broker:OverflowPolicy backpressure; reported at most every 10 s)")]
    private partial void LogThrottled(string clientId, long count);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Session {ClientId} took nothing while publishers waited {MaxWait} ms for it: treated as stuck, its queue drops the oldest until it takes again (Broker:BackpressureMaxWaitMilliseconds)")]
    private partial void LogStuck(string clientId, long maxWait);
}
