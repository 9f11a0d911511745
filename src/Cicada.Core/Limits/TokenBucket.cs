using System.Diagnostics;

namespace Cicada.Core.Limits;

/// <summary>
/// A token bucket: <see cref="Rate"/> tokens a second, at most <see cref="Burst"/> saved up. Not
/// thread-safe on purpose: a connection's bucket is only touched by its own read loop, so a
/// publish costs a timestamp and a few arithmetic operations, no lock and no allocation. Shared
/// buckets (per IP address) are locked by their owner.
/// </summary>
public sealed class TokenBucket
{
    private double _tokens;
    private long _last;

    public TokenBucket(double rate, double burst)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rate);
        Rate = rate;
        Burst = Math.Max(1, burst);
        _tokens = Burst;
        _last = Stopwatch.GetTimestamp();
    }

    public double Rate { get; }

    public double Burst { get; }

    /// <summary>Takes one token; false when the bucket is empty.</summary>
    public bool TryTake() => TryTake(Stopwatch.GetTimestamp());

    public bool TryTake(long timestamp)
    {
        var elapsed = (timestamp - _last) / (double)Stopwatch.Frequency;
        _last = timestamp;
        if (elapsed > 0)
        {
            _tokens = Math.Min(Burst, _tokens + elapsed * Rate);
        }

        if (_tokens >= 1)
        {
            _tokens -= 1;
            return true;
        }

        return false;
    }

    /// <summary>Whole seconds until a token is there again (HTTP Retry-After, RFC 9110 §10.2.3); at least 1.</summary>
    public int RetryAfterSeconds => Math.Max(1, (int)Math.Ceiling((1 - _tokens) / Rate));
}
