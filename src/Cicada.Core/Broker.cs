using System.Collections.Concurrent;
using Cicada.Core.Sessions;
using Cicada.Core.Storage;
using Cicada.Core.Topics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Core;

/// <summary>
/// The hub every edge talks to: sessions, the subscription tree, retained messages, wills and
/// routing. Knows MQTT's semantics (the canonical ones) but no wire format.
/// </summary>
public sealed partial class Broker : IHeartbeatHandler
{
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly SubscriptionTree _subscriptions = new();
    private readonly RetainedMessages _retained = new();
    private readonly Lock _connectLock = new();
    private readonly IBrokerStore _store;
    private readonly BrokerOptions _options;
    private readonly CicadaMetrics _metrics;
    private readonly ILogger<Broker> _logger;
    private readonly TimeProvider _time;
    private readonly BackpressurePolicy? _backpressure;

    [ThreadStatic]
    private static RouteScratch? _threadScratch;

    public Broker(IBrokerStore store, IOptions<BrokerOptions> options, CicadaMetrics metrics, ILogger<Broker> logger,
        TimeProvider? timeProvider = null)
    {
        _store = store;
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
        _backpressure = OverflowPolicies.IsBackpressure(_options.OverflowPolicy)
            ? new BackpressurePolicy(_time, TimeSpan.FromMilliseconds(Math.Max(1, _options.BackpressureMaxWaitMilliseconds)), metrics, logger)
            : null;
    }

    public BrokerOptions Options => _options;

    public TimeProvider Time => _time;

    public CicadaMetrics Metrics => _metrics;

    public RetainedMessages Retained => _retained;

    public SubscriptionTree Subscriptions => _subscriptions;

    public IReadOnlyCollection<Session> Sessions => (IReadOnlyCollection<Session>)_sessions.Values;

    public bool TryGetSession(string clientId, out Session? session) => _sessions.TryGetValue(clientId, out session);

    /// <summary>Loads retained messages and persistent sessions from the store (once, at startup).</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        await _store.InitializeAsync(cancellationToken);
        foreach (var message in await _store.LoadRetainedAsync(cancellationToken))
        {
            _retained.Set(message);
        }

        var sessions = await _store.LoadSessionsAsync(cancellationToken);
        var queued = 0;
        var now = _time.GetUtcNow();
        foreach (var record in sessions)
        {
            var expiry = record.ExpirySeconds == 0 ? uint.MaxValue : record.ExpirySeconds;
            var session = new Session(record.ClientId, expiry, _store, _options.MaxQueuedMessages, _options.MaxQueuedBytes)
            {
                // Connected when the broker stopped: its expiry counts from now.
                DisconnectedAt = record.DisconnectedAt ?? now,
            };
            foreach (var sub in record.Subscriptions)
            {
                session.SetSubscription(sub.Filter, sub.Options);
                _subscriptions.Add(new Subscription(session, sub.Filter, sub.Options));
            }

            var queue = await _store.LoadQueueAsync(record.ClientId, cancellationToken);
            queued += queue.Count;
            session.Restore(queue, record.ReceivedIds);
            session.Stored = true;
            _sessions[record.ClientId] = session;
            ScheduleExpiry(session);
        }

        LogLoaded(_retained.Count, sessions.Count, queued);
    }

    /// <summary>MQTT 3.1.1 form: a persistent session never expires (CleanSession = 0).</summary>
    public ConnectResult Connect(string clientId, bool cleanStart, bool persistent, IClientConnection connection,
        Will? will, string protocol, System.Net.EndPoint? remote) =>
        Connect(clientId, cleanStart, persistent ? uint.MaxValue : 0, connection, will, protocol, remote);

    /// <summary>
    /// Attaches a connection to the client's session, creating or discarding it as
    /// <paramref name="cleanStart"/> says (MQTT-3.1.2-4..6, MQTT 5 §3.1.2.4), and disconnects an
    /// older connection with the same client id (MQTT-3.1.4-2). <paramref name="sessionExpiry"/>
    /// is MQTT 5's Session Expiry Interval: 0 ends the session with the connection,
    /// <see cref="uint.MaxValue"/> never.
    /// </summary>
    public ConnectResult Connect(string clientId, bool cleanStart, uint sessionExpiry, IClientConnection connection,
        Will? will, string protocol, System.Net.EndPoint? remote)
    {
        ClientLink link;
        bool present;
        ClientLink? previous;
        lock (_connectLock)
        {
            _sessions.TryGetValue(clientId, out var session);
            previous = session?.Link;
            if (previous is not null)
            {
                session!.Link = null;
            }

            if (session is not null && (cleanStart || !session.IsPersistent))
            {
                EndSession(session);
                session = null;
            }

            present = session is not null;
            if (session is null)
            {
                session = new Session(clientId, sessionExpiry, _store, _options.MaxQueuedMessages, _options.MaxQueuedBytes);
                _sessions[clientId] = session;
            }
            else
            {
                // MQTT 5 §3.1.3.2.2: a connection that resumes the session in time cancels a delayed will.
                session.PendingWill = null;
                if (sessionExpiry == 0 && session.Stored)
                {
                    // Resumed, but it now ends with this connection: nothing of it needs to stay on disk.
                    _store.DeleteSessionAsync(clientId).Forget();
                    session.Stored = false;
                }

                session.ExpirySeconds = sessionExpiry;
            }

            if (session.IsPersistent)
            {
                // New, or resumed: either way the stored header must stop saying "disconnected at …".
                _store.SaveSessionAsync(clientId, sessionExpiry, null).Forget();
                session.Stored = true;
            }

            link = new ClientLink(session, connection, will, protocol, remote);
            session.Link = link;
            session.DisconnectedAt = null;
        }

        previous?.Connection.Close(CloseReason.SessionTakenOver);
        CountOpened(link);
        NotifyClientConnected(link);
        return new ConnectResult(link, present);
    }

    /// <summary>Asks every connected client's edge to close: the broker is shutting down.</summary>
    public void CloseAll()
    {
        foreach (var session in _sessions.Values)
        {
            session.Link?.Connection.Close(CloseReason.ServerShuttingDown);
        }
    }

    /// <summary>
    /// Changes the session expiry of a connected session (MQTT 5 DISCONNECT, §3.14.2.2.2).
    /// </summary>
    public void SetSessionExpiry(ClientLink link, uint sessionExpiry)
    {
        lock (_connectLock)
        {
            var session = link.Session;
            if (!ReferenceEquals(session.Link, link))
            {
                return;
            }

            var wasPersistent = session.IsPersistent;
            session.ExpirySeconds = sessionExpiry;
            if (session.IsPersistent)
            {
                _store.SaveSessionAsync(session.ClientId, sessionExpiry, null).Forget();
                session.Stored = true;
            }
            else if (wasPersistent && session.Stored)
            {
                _store.DeleteSessionAsync(session.ClientId).Forget();
                session.Stored = false;
            }
        }
    }

    /// <summary>
    /// Detaches a connection. A session without expiry ends with it (MQTT-3.1.2-6); the will is
    /// published unless the client disconnected normally (MQTT-3.1.2-8, MQTT-3.14.4-3), after its
    /// delay or when the session ends, whichever comes first (MQTT 5 §3.1.3.2.2).
    /// </summary>
    public void Disconnect(ClientLink link, bool publishWill)
    {
        var session = link.Session;
        var will = link.Will;
        link.Will = null;
        Will? publishNow = null;
        lock (_connectLock)
        {
            var current = ReferenceEquals(session.Link, link);
            if (current)
            {
                session.Link = null;
                session.ReleaseWaiters(); // offline: nothing drains it now
                if (session.IsPersistent)
                {
                    session.DisconnectedAt = _time.GetUtcNow();
                    _store.SaveSessionAsync(session.ClientId, session.ExpirySeconds, session.DisconnectedAt).Forget();
                    ScheduleExpiry(session);
                }
                else
                {
                    EndSession(session);
                }
            }

            if (publishWill && will is not null)
            {
                var sessionLives = _sessions.TryGetValue(session.ClientId, out var live) && ReferenceEquals(live, session);
                if (will.DelaySeconds == 0 || !sessionLives)
                {
                    publishNow = will;
                }
                else if (current)
                {
                    session.PendingWill = will;
                    session.WillDueAt = session.DisconnectedAt!.Value.AddSeconds(Math.Min(will.DelaySeconds, session.ExpirySeconds));
                    Schedule(session, session.WillDueAt.Value);
                }

                // Otherwise a newer connection resumed the session before the delay ran out: no will.
            }
        }

        CountClosed(link);
        NotifyClientDisconnected(link, publishWill);
        if (publishNow is not null)
        {
            PublishAsync(publishNow.ToPublish(_time.GetUtcNow())).Forget();
        }
    }

    /// <summary>
    /// Ends a session: subscriptions out of the tree, state dropped, its delayed will published,
    /// and what it held through shared subscriptions handed to other members (MQTT 5 §4.8.2).
    /// Called under the connect lock.
    /// </summary>
    private void EndSession(Session session)
    {
        foreach (var filter in session.ClearSubscriptions())
        {
            _subscriptions.Remove(session, filter);
        }

        var held = session.Clear();
        _sessions.TryRemove(new KeyValuePair<string, Session>(session.ClientId, session));
        if (session.Stored)
        {
            _store.DeleteSessionAsync(session.ClientId).Forget();
            session.Stored = false;
        }
        if (session.PendingWill is { } will)
        {
            session.PendingWill = null;
            PublishAsync(will.ToPublish(_time.GetUtcNow())).Forget();
        }

        Redistribute(held);
    }

    /// <summary>
    /// Adds or replaces a subscription (MQTT-3.8.4-3). The task completes once a persistent
    /// session's subscription is durable.
    /// </summary>
    public Task SubscribeAsync(ClientLink link, string filter, SubscriptionOptions options) =>
        Subscribe(link, filter, options, out _);

    /// <summary>
    /// Adds or replaces a subscription (MQTT-3.8.4-3); <paramref name="existed"/> tells whether it
    /// replaced one (MQTT 5 Retain Handling 1). The task completes once it is durable.
    /// </summary>
    public Task Subscribe(ClientLink link, string filter, SubscriptionOptions options, out bool existed)
    {
        var session = link.Session;
        lock (_connectLock)
        {
            existed = session.HasSubscription(filter);
            if (!ReferenceEquals(session.Link, link))
            {
                // Taken over (MQTT-3.1.4-2) or gone: a late SUBSCRIBE on the old connection must
                // not re-add subscriptions to a session that was discarded, where nothing would
                // ever remove them again.
                return Task.CompletedTask;
            }

            session.SetSubscription(filter, options);
            _subscriptions.Add(new Subscription(session, filter, options));

            // Queued under the lock, so it cannot reach the store after a takeover's delete.
            return session.IsPersistent
                ? _store.AddSubscriptionAsync(session.ClientId, new SubscriptionRecord(filter, options))
                : Task.CompletedTask;
        }
    }

    /// <summary>
    /// Queues the retained messages matching a new subscription (MQTT-3.3.1-6, RETAIN=1 per
    /// MQTT-3.3.1-8); none for a shared subscription (MQTT 5 §4.8.2).
    /// </summary>
    public void DeliverRetained(ClientLink link, string filter, SubscriptionOptions options)
    {
        if (TopicValidator.TryParseShared(filter, out _, out _, out _))
        {
            return;
        }

        var found = new List<Message>();
        _retained.Match(filter, found);
        if (found.Count == 0)
        {
            return;
        }

        var now = _time.GetUtcNow();
        var via = new Subscription(link.Session, filter, options);
        foreach (var message in found)
        {
            if (!message.IsExpired(now))
            {
                var qos = (QoS)Math.Min((byte)message.Qos, (byte)options.MaxQos);
                if (link.Session.Enqueue(new Delivery(message, qos, true, 0, via)) is > 0 and var dropped)
                {
                    CountDrop(link.Session, dropped);
                }
            }
        }

        link.Connection.OnDeliveriesPending();
    }

    /// <summary>Removes a subscription; true when there was one.</summary>
    public bool Unsubscribe(ClientLink link, string filter)
    {
        var session = link.Session;
        if (!session.RemoveSubscription(filter))
        {
            return false;
        }

        _subscriptions.Remove(session, filter);
        if (session.IsPersistent)
        {
            _store.RemoveSubscriptionAsync(session.ClientId, filter).Forget();
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded {Retained} retained messages, {Sessions} persistent sessions, {Queued} queued messages")]
    private partial void LogLoaded(int retained, int sessions, int queued);
}
