using Microsoft.Extensions.Time.Testing;

namespace Cicada.Bridge.Tests;

/// <summary>Loop prevention for MQTT 3.1.1 remotes, which have no No Local option (MQTT 5 §3.8.3.1).</summary>
public sealed class EchoFilterTests
{
    [Fact]
    public void EachCopySent_SwallowsExactlyOneEcho()
    {
        var filter = new EchoFilter(new FakeTimeProvider());
        filter.Record("a/b", "1"u8);
        filter.Record("a/b", "1"u8);

        Assert.True(filter.TryConsume("a/b", "1"u8));
        Assert.True(filter.TryConsume("a/b", "1"u8));
        Assert.False(filter.TryConsume("a/b", "1"u8));
    }

    [Fact]
    public void OtherTopicOrPayload_IsNotAnEcho()
    {
        var filter = new EchoFilter(new FakeTimeProvider());
        filter.Record("a/b", "1"u8);

        Assert.False(filter.TryConsume("a/c", "1"u8));
        Assert.False(filter.TryConsume("a/b", "2"u8));
        Assert.False(filter.TryConsume("a/b", "11"u8));
    }

    [Fact]
    public void CopiesOlderThanTheWindow_AreForgotten()
    {
        var time = new FakeTimeProvider();
        var filter = new EchoFilter(time);
        filter.Record("a", "x"u8);
        time.Advance(EchoFilter.Window + TimeSpan.FromSeconds(1));

        Assert.False(filter.TryConsume("a", "x"u8));
        Assert.Equal(0, filter.Count);
    }

    [Fact]
    public void AConsumedCopyExpiring_DoesNotForgetALaterOne()
    {
        var time = new FakeTimeProvider();
        var filter = new EchoFilter(time);
        filter.Record("a", "x"u8);
        Assert.True(filter.TryConsume("a", "x"u8));
        time.Advance(EchoFilter.Window / 2);
        filter.Record("a", "x"u8);
        time.Advance(EchoFilter.Window / 2 + TimeSpan.FromSeconds(1));

        Assert.True(filter.TryConsume("a", "x"u8));
    }

    [Fact]
    public void Capacity_BoundsMemory_OldestGoFirst()
    {
        var filter = new EchoFilter(new FakeTimeProvider(), capacity: 2);
        filter.Record("1", "x"u8);
        filter.Record("2", "x"u8);
        filter.Record("3", "x"u8);

        Assert.Equal(2, filter.Count);
        Assert.False(filter.TryConsume("1", "x"u8));
        Assert.True(filter.TryConsume("3", "x"u8));
    }
}
