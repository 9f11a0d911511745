using Cicada.Core.Sessions;

namespace Cicada.Core.Tests;

/// <summary>The drain wake-up protocol every edge uses: no lost wake-up, never two passes at once.</summary>
public class DrainSignalTests
{
    [Fact]
    public void Only_the_first_request_schedules_a_pass()
    {
        var signal = new DrainSignal();
        Assert.True(signal.Request());
        Assert.False(signal.Request());
        Assert.False(signal.Request());
    }

    [Fact]
    public void A_request_during_a_pass_makes_it_run_again()
    {
        var signal = new DrainSignal();
        Assert.True(signal.Request());
        signal.BeginPass();
        Assert.False(signal.Request()); // arrives while the pass runs
        Assert.False(signal.TryEnd()); // so the pass may not stop
        signal.BeginPass();
        Assert.True(signal.TryEnd());
        Assert.True(signal.Request()); // idle again: the next request schedules
    }

    [Fact]
    public void Reset_lets_the_next_request_schedule()
    {
        var signal = new DrainSignal();
        Assert.True(signal.Request());
        signal.Reset();
        Assert.True(signal.Request());
    }
}
