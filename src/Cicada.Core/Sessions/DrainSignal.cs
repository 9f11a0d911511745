namespace Cicada.Core.Sessions;

/// <summary>
/// The wake-up protocol between Core and an edge's drain (DESIGN.md: no task or timer per
/// connection). Any thread may <see cref="Request"/> a drain; at most one pass runs at a time, and a
/// request that arrives while a pass runs makes it run once more instead of being lost. Keep it
/// as a mutable field of the edge's connection object (never copy it).
/// </summary>
public struct DrainSignal
{
    private const int Idle = 0;
    private const int Draining = 1;
    private const int DrainAgain = 2;

    private int _state;

    /// <summary>Records pending work; true when the caller must schedule a pass (none runs or is scheduled).</summary>
    public bool Request()
    {
        while (true)
        {
            var state = Volatile.Read(ref _state);
            if (state == Idle)
            {
                if (Interlocked.CompareExchange(ref _state, Draining, Idle) == Idle)
                {
                    return true;
                }
            }
            else if (state == Draining)
            {
                if (Interlocked.CompareExchange(ref _state, DrainAgain, Draining) == Draining)
                {
                    return false;
                }
            }
            else
            {
                return false;
            }
        }
    }

    /// <summary>At the start of every pass: the requests made so far are being served.</summary>
    public void BeginPass() => Volatile.Write(ref _state, Draining);

    /// <summary>After a pass that left nothing behind: true when the drain may stop, false when a request came in meanwhile and it must run again.</summary>
    public bool TryEnd() => Interlocked.CompareExchange(ref _state, Idle, Draining) == Draining;

    /// <summary>The drain stops for good (its output is gone); a later request schedules afresh.</summary>
    public void Reset() => Volatile.Write(ref _state, Idle);
}
