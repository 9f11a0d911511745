using System.Globalization;
using System.Runtime.CompilerServices;
using Cicada.Core;
using Cicada.Core.Sessions;
using Cicada.Core.Topics;
using Microsoft.Extensions.Options;

namespace Cicada.Http.Streaming;

/// <summary>
/// What a reconnecting SSE client missed (WHATWG HTML §9.2.4: a reconnecting EventSource sends the
/// last id it saw as <c>Last-Event-ID</c>). One in-process Core session subscribed to <c>#</c> and
/// <c>$devices/#</c> keeps the last <see cref="HttpOptions.StreamReplayMessages"/> messages, none
/// older than <see cref="HttpOptions.StreamReplaySeconds"/>; every stream numbers its events from
/// the same global sequence, so one id means the same message on every stream.
/// </summary>
/// <remarks>
/// An id is <c>{epoch}.{sequence}</c>: the epoch changes when the broker restarts, so an id from a
/// previous run is recognised as unknown instead of being compared with an unrelated sequence.
/// A message gets its number from whichever reader sees it first (the buffer or a stream), so
/// messages published concurrently by different clients may reach one stream a position apart; a
/// resume replays by number, which can at worst repeat such a neighbour, never skip one silently:
/// whenever messages after the client's id may be gone (evicted, or dropped by a full queue) the
/// stream says so with a <c>gap</c> event.
/// </remarks>
public sealed class SseReplayBuffer : IClientConnection, IDisposable
{
    private readonly Broker _broker;
    private readonly int _capacity;
    private readonly TimeSpan _maxAge;
    private readonly ConditionalWeakTable<Message, StrongBox<long>> _ids = [];
    private readonly Queue<Entry> _entries = new();
    private readonly Lock _lock = new();
    private DrainSignal _drain;
    private ClientLink? _link;
    private long _nextId;
    private long _lostUpTo;
    private long _droppedSeen;

    public SseReplayBuffer(Broker broker, IOptions<HttpOptions> options)
    {
        _broker = broker;
        _capacity = Math.Max(0, options.Value.StreamReplayMessages);
        _maxAge = TimeSpan.FromSeconds(Math.Max(1, options.Value.StreamReplaySeconds));

        // Seconds since 2020 in base 36: short, and different on every start.
        Epoch = ((long)(broker.Time.GetUtcNow() - new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero)).TotalSeconds)
            .ToString("x", CultureInfo.InvariantCulture);
        if (_capacity > 0)
        {
            _link = broker.Connect("$sse:replay:" + Guid.NewGuid().ToString("N"), cleanStart: true, persistent: false, this, will: null, "internal", remote: null).Link;
            var all = new SubscriptionOptions(QoS.AtMostOnce);
            _ = broker.SubscribeAsync(_link, "#", all);

            // A leading wildcard never matches $-topics (MQTT-4.7.2-1): the device events are named.
            _ = broker.SubscribeAsync(_link, "$devices/#", all);
        }
    }

    public string Epoch { get; }

    public bool Enabled => _capacity > 0;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>The event id of a message: assigned once, by whichever reader sees it first.</summary>
    public long IdOf(Message message) =>
        _ids.GetValue(message, _ => new StrongBox<long>(Interlocked.Increment(ref _nextId))).Value;

    public string Format(long id) => Epoch + "." + id.ToString(CultureInfo.InvariantCulture);

    /// <summary>Parses a Last-Event-ID of this run; false for another run's id or garbage.</summary>
    public bool TryParse(string lastEventId, out long id)
    {
        id = 0;
        var dot = lastEventId.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && lastEventId.AsSpan(0, dot).SequenceEqual(Epoch)
            && long.TryParse(lastEventId.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out id);
    }

    /// <summary>
    /// The buffered messages after <paramref name="after"/> matching one of <paramref name="filters"/>,
    /// in id order; <paramref name="complete"/> is false when some message after it may be gone.
    /// </summary>
    public List<(long Id, Message Message)> After(long after, IReadOnlyList<string> filters, out bool complete, out long oldest)
    {
        var found = new List<(long, Message)>();
        lock (_lock)
        {
            // Catch up with messages routed just before the caller subscribed.
            DrainLocked();
            Prune(_broker.Time.GetUtcNow());
            complete = Enabled && after >= _lostUpTo;
            oldest = _entries.TryPeek(out var first) ? first.Id : Interlocked.Read(ref _nextId) + 1;
            foreach (var entry in _entries)
            {
                if (entry.Id > after && Matches(entry.Message.Topic, filters))
                {
                    found.Add((entry.Id, entry.Message));
                }
            }
        }

        found.Sort(static (a, b) => a.Item1.CompareTo(b.Item1));
        return found;
    }

    private static bool Matches(string topic, IReadOnlyList<string> filters)
    {
        foreach (var filter in filters)
        {
            if (TopicValidator.Matches(filter, topic))
            {
                return true;
            }
        }

        return false;
    }

    public void OnDeliveriesPending()
    {
        if (_drain.Request())
        {
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.DrainScheduled(), this, preferLocal: false);
        }
    }

    private void DrainScheduled()
    {
        do
        {
            _drain.BeginPass();
            lock (_lock)
            {
                DrainLocked();
            }
        }
        while (!_drain.TryEnd());
    }

    private void DrainLocked()
    {
        if (_link is not { } link)
        {
            return;
        }

        var session = link.Session;
        var now = _broker.Time.GetUtcNow();
        while (session.TryTakeNext(int.MaxValue, now, out var delivery, out var id))
        {
            if (id != 0)
            {
                session.Complete(id);
            }

            _entries.Enqueue(new Entry(IdOf(delivery.Message), delivery.Message, now));
        }

        // A full queue dropped messages nobody can name now: any id before this point may miss some.
        if (session.Dropped != _droppedSeen)
        {
            _droppedSeen = session.Dropped;
            _lostUpTo = Interlocked.Read(ref _nextId);
        }

        Prune(now);
    }

    private void Prune(DateTimeOffset now)
    {
        while (_entries.TryPeek(out var first) && (_entries.Count > _capacity || now - first.At > _maxAge))
        {
            _entries.Dequeue();
            _lostUpTo = Math.Max(_lostUpTo, first.Id);
        }
    }

    public void Close(CloseReason reason) => Dispose();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _link, null) is { } link)
        {
            _broker.Disconnect(link, publishWill: false);
        }
    }

    private readonly record struct Entry(long Id, Message Message, DateTimeOffset At);
}
