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
public sealed partial class Broker
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

    [ThreadStatic]
    private static RouteScratch? t_scratch;

    public Broker(IBrokerStore store, IOptions<BrokerOptions> options, CicadaMetrics metrics, ILogger<Broker> logger,
        TimeProvider? timeProvider = null)
    {
        _store = store;
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
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
        foreach (var record in sessions)
        {
            var session = new Session(record.ClientId, persistent: true, _store, _options.MaxQueuedMessages)
            {
                DisconnectedAt = record.DisconnectedAt,
            };
            foreach (var sub in record.Subscriptions)
            {
                session.Subscriptions[sub.Filter] = sub.Options;
                _subscriptions.Add(new Subscription(session, sub.Filter, sub.Options));
            }

            var queue = await _store.LoadQueueAsync(record.ClientId, cancellationToken);
            queued += queue.Count;
            session.Restore(queue, record.ReceivedIds);
            _sessions[record.ClientId] = session;
        }

        LogLoaded(_retained.Count, sessions.Count, queued);
    }

    /// <summary>
    /// Attaches a connection to the client's session, creating or discarding it as
    /// <paramref name="cleanStart"/> says (MQTT-3.1.2-4..6), and disconnects an older connection
    /// with the same client id (MQTT-3.1.4-2).
    /// </summary>
    public ConnectResult Connect(string clientId, bool cleanStart, bool persistent, IClientConnection connection,
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

            if (session is not null && (cleanStart || !session.IsPersistent || !persistent))
            {
                DiscardSession(session);
                session = null;
            }

            present = session is not null;
            if (session is null)
            {
                session = new Session(clientId, persistent, _store, _options.MaxQueuedMessages);
                _sessions[clientId] = session;
            }

            if (session.IsPersistent)
            {
                // New, or resumed: either way the stored header must stop saying "disconnected at …".
                _store.SaveSessionAsync(clientId, uint.MaxValue, null).Forget();
            }

            link = new ClientLink(session, connection, will, protocol, remote);
            session.Link = link;
            session.DisconnectedAt = null;
        }

        previous?.Connection.Close(CloseReason.SessionTakenOver);
        _metrics.ConnectionOpened();
        return new ConnectResult(link, present);
    }

    /// <summary>
    /// Detaches a connection. A non-persistent session ends with it (MQTT-3.1.2-6); the will is
    /// published unless the client disconnected normally (MQTT-3.1.2-8, MQTT-3.14.4-3).
    /// </summary>
    public void Disconnect(ClientLink link, bool publishWill)
    {
        var session = link.Session;
        lock (_connectLock)
        {
            if (ReferenceEquals(session.Link, link))
            {
                session.Link = null;
                if (session.IsPersistent)
                {
                    session.DisconnectedAt = _time.GetUtcNow();
                    _store.SaveSessionAsync(session.ClientId, uint.MaxValue, session.DisconnectedAt).Forget();
                }
                else
                {
                    DiscardSession(session);
                }
            }
        }

        _metrics.ConnectionClosed();
        var will = link.Will;
        link.Will = null;
        if (publishWill && will is not null)
        {
            PublishAsync(will.Message).Forget();
        }
    }

    private void DiscardSession(Session session)
    {
        foreach (var filter in session.Subscriptions.Keys)
        {
            _subscriptions.Remove(session, filter);
        }

        session.Subscriptions.Clear();
        session.Clear();
        _sessions.TryRemove(new KeyValuePair<string, Session>(session.ClientId, session));
        if (session.IsPersistent)
        {
            _store.DeleteSessionAsync(session.ClientId).Forget();
        }
    }

    /// <summary>
    /// Adds or replaces a subscription (MQTT-3.8.4-3). The task completes once a persistent
    /// session's subscription is durable.
    /// </summary>
    public Task SubscribeAsync(ClientLink link, string filter, SubscriptionOptions options)
    {
        var session = link.Session;
        lock (_connectLock)
        {
            if (!ReferenceEquals(session.Link, link))
            {
                // Taken over (MQTT-3.1.4-2) or gone: a late SUBSCRIBE on the old connection must
                // not re-add subscriptions to a session that was discarded, where nothing would
                // ever remove them again.
                return Task.CompletedTask;
            }

            session.Subscriptions[filter] = options;
            _subscriptions.Add(new Subscription(session, filter, options));

            // Queued under the lock, so it cannot reach the store after a takeover's delete.
            return session.IsPersistent
                ? _store.AddSubscriptionAsync(session.ClientId, new SubscriptionRecord(filter, options))
                : Task.CompletedTask;
        }
    }

    /// <summary>Queues the retained messages matching a new subscription (MQTT-3.3.1-6, RETAIN=1 per MQTT-3.3.1-8).</summary>
    public void DeliverRetained(ClientLink link, string filter, SubscriptionOptions options)
    {
        var found = new List<Message>();
        _retained.Match(filter, found);
        if (found.Count == 0)
        {
            return;
        }

        var now = _time.GetUtcNow();
        foreach (var message in found)
        {
            if (!message.IsExpired(now))
            {
                var qos = (QoS)Math.Min((byte)message.Qos, (byte)options.MaxQos);
                link.Session.Enqueue(new Delivery(message, qos, true, 0));
            }
        }

        link.Connection.OnDeliveriesPending();
    }

    /// <summary>Removes a subscription; true when there was one.</summary>
    public bool Unsubscribe(ClientLink link, string filter)
    {
        var session = link.Session;
        if (!session.Subscriptions.TryRemove(filter, out _))
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
