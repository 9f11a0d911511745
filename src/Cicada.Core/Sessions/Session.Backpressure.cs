namespace Cicada.Core.Sessions;

public sealed partial class Session
{
    // Created the first time the queue reaches its high-water mark: a session that keeps up costs
    // one null field, and its enqueue/take paths one comparison more.
    private Throttle? _throttle;

    /// <summary>Publishers waiting for this session's queue (Broker:OverflowPolicy = backpressure).</summary>
    private sealed class Throttle(BackpressurePolicy policy)
    {
        public readonly BackpressurePolicy Policy = policy;

        /// <summary>Completed when the queue is down to its low-water mark or the wait ran out; null when none is armed.</summary>
        public TaskCompletionSource? Gate;
        public ITimer? Timer;

        /// <summary>Deliveries taken since the throttle was created: progress, to tell a slow subscriber from a stuck one.</summary>
        public long Taken;
        public long TakenAtArm;

        /// <summary>A wait ran out without a single take: publishers no longer wait for this session until it takes again.</summary>
        public bool Stalled;
    }

    /// <summary>
    /// Half of either queue limit: far enough below them that waiting publishers stop before
    /// drop-oldest starts, high enough that the waits come in few, long episodes.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private bool AboveHighWaterLocked() =>
        _pending.Count >= Math.Max(1, _maxQueued >> 1) || (_maxQueuedBytes > 0 && _pendingBytes >= _maxQueuedBytes >> 1);

    /// <summary>A quarter of the limits: the gap to the high-water mark is what one episode lets through.</summary>
    private bool AtLowWaterLocked() =>
        _pending.Count <= _maxQueued >> 2 && (_maxQueuedBytes == 0 || _pendingBytes <= _maxQueuedBytes >> 2);

    /// <summary>
    /// After an enqueue that left the queue above its high-water mark: the task a publisher should
    /// wait on, or null when the session is known to be stuck.
    /// </summary>
    private Task? ThrottleLocked(BackpressurePolicy policy)
    {
        var throttle = _throttle ??= new Throttle(policy);
        if (throttle.Stalled)
        {
            return null;
        }

        if (throttle.Gate is null)
        {
            // The gate carries the session as its state, so the timer needs no closure, and a
            // timer that fires after its gate was opened finds another gate (or none) and does nothing.
            var gate = new TaskCompletionSource(this, TaskCreationOptions.RunContinuationsAsynchronously);
            throttle.Gate = gate;
            throttle.TakenAtArm = throttle.Taken;
            throttle.Timer = policy.Time.CreateTimer(static state => OnGateTimeout((TaskCompletionSource)state!),
                gate, policy.MaxWait, Timeout.InfiniteTimeSpan);
        }

        return throttle.Gate.Task;
    }

    /// <summary>After a take: progress is recorded, and the gate opens once the queue is down to its low-water mark.</summary>
    private void TookLocked()
    {
        if (_throttle is not { } throttle)
        {
            return;
        }

        throttle.Taken++;
        throttle.Stalled = false;
        if (throttle.Gate is not null && AtLowWaterLocked())
        {
            OpenGateLocked(throttle);
        }
    }

    /// <summary>Lets every waiting publisher go (continuations run on the thread pool, not under the lock).</summary>
    private static void OpenGateLocked(Throttle throttle)
    {
        var gate = throttle.Gate;
        throttle.Gate = null;
        throttle.Timer?.Dispose();
        throttle.Timer = null;
        gate?.TrySetResult();
    }

    /// <summary>The session went offline or ended: nobody will drain it, so nobody waits for it.</summary>
    internal void ReleaseWaiters()
    {
        lock (_lock)
        {
            if (_throttle is { } throttle)
            {
                OpenGateLocked(throttle);
            }
        }
    }

    private static void OnGateTimeout(TaskCompletionSource gate)
    {
        var session = (Session)gate.Task.AsyncState!;
        bool stuck;
        BackpressurePolicy policy;
        lock (session._lock)
        {
            if (session._throttle is not { } throttle || !ReferenceEquals(throttle.Gate, gate))
            {
                return;
            }

            // Nothing taken during the whole wait: the subscriber is stuck or dead, and must not
            // hold publishers back any longer (DESIGN.md: slow consumers never stall publishers).
            // Otherwise it is just slow: the next publish above the high-water mark waits again.
            stuck = throttle.Taken == throttle.TakenAtArm;
            throttle.Stalled = stuck;
            policy = throttle.Policy;
            OpenGateLocked(throttle);
        }

        policy.OnWaitExpired(session, stuck);
    }
}
