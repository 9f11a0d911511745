using System.Net;
using Cicada.Coap.Protocol;
using Cicada.Core;
using Cicada.Core.Sessions;
using Cicada.Core.Topics;

namespace Cicada.Coap;

/// <summary>Observe (RFC 7641): each observer is a subscription of a Core session; notifications per message.</summary>
public sealed partial class CoapServer
{
    private const int MaxNotificationsPerDrain = 64;

    private readonly Dictionary<(IPEndPoint, string), Observation> _observations = [];
    private readonly Dictionary<string, CoapPeer> _peers = new(StringComparer.Ordinal);

    /// <summary>Observations held (tests, metrics).</summary>
    internal int ObservationCount
    {
        get
        {
            lock (_lock)
            {
                return _observations.Count;
            }
        }
    }

    /// <summary>
    /// GET with Observe=0 (RFC 7641 §3.1, §4.1): the current value (or 2.05 with an empty payload
    /// while nothing is retained, as a pub/sub gateway answers) and a notification per message.
    /// A filter with <c>+</c>/<c>#</c> observes many topics; their retained values follow as notifications.
    /// </summary>
    private CoapMessage Observe(RequestContext context, string filter)
    {
        var request = context.Request;
        if (!TopicValidator.IsValidTopicFilter(filter))
        {
            return Error(request, CoapCode.BadRequest, "not a topic filter");
        }

        var now = _time.GetUtcNow();
        var wildcard = filter.AsSpan().IndexOfAny('+', '#') >= 0;
        var retained = wildcard ? null : _broker.Retained.Get(filter);
        if (retained is not null && retained.IsExpired(now))
        {
            retained = null;
        }

        var response = retained is null
            ? CoapMessage.ResponseTo(request, CoapCode.Content)
            : Representation(context, retained, CoapCode.Content, now);
        if (response.Code is not (CoapCode.Content or CoapCode.Valid))
        {
            return response; // an error: no registration (RFC 7641 §4.1 registers on 2.xx only)
        }

        // A 2.03 (the client's ETag is current) registers too: RFC 7641 §3.3.2 lets a client
        // validate with ETags when it registers, and §4.3.2 lets the server answer 2.03 then.

        var key = (context.Remote, Convert.ToHexString(request.Token.Span));
        var exponent = request.GetUInt(CoapOptionNumber.Block2) is { } b2 && BlockOption.TryDecode(b2, out var block)
            ? Math.Min(block.SizeExponent, PreferredExponent)
            : PreferredExponent;
        Observation? replaced = null;
        Observation observation;
        lock (_lock)
        {
            if (_observations.TryGetValue(key, out var existing) && existing.Filter == filter && !existing.Ended)
            {
                // §4.1: a registration with the token of an existing entry refreshes it, not adds one.
                existing.Confirmable = request.Type == CoapType.Confirmable;
                existing.BlockExponent = exponent;
                existing.Sequence = (existing.Sequence + 1) & 0xFFFFFF;
                response.AddUInt(CoapOptionNumber.Observe, existing.Sequence);
                return response;
            }

            replaced = existing;
            if (replaced is null && _observations.Count >= _options.MaxObservations)
            {
                // RFC 7641 §4.1: a server unwilling to add an observer answers the request as a
                // plain GET, and that response MUST NOT carry an Observe option.
                CoapLog.ObservationRefused(_logger, context.Remote, filter, _options.MaxObservations);
                return wildcard ? Error(request, CoapCode.BadRequest, "no observation slot free, and wildcards only with Observe")
                    : retained is null ? Error(request, CoapCode.NotFound, "nothing retained (no observation slot free)")
                    : response;
            }
        }

        if (replaced is not null)
        {
            EndObservation(replaced, "replaced by a new registration", notify: false);
        }

        var clientId = context.Query.ContainsKey("c") ? context.ClientId : $"coap:{context.Remote}:{key.Item2}";
        var peer = GetOrConnectPeer(clientId, context.Remote);
        observation = new Observation(peer, context.Remote, request.Token.ToArray(), filter, context.PathString,
            request.Type == CoapType.Confirmable, exponent);
        bool subscribe;
        lock (_lock)
        {
            subscribe = !peer.Observations.Exists(o => o.Filter == filter);
            peer.Observations.Add(observation);
            _observations[key] = observation;
            response.AddUInt(CoapOptionNumber.Observe, observation.Sequence);
        }

        if (subscribe)
        {
            // At most once towards the peer: CoAP's own CON/ACK gives the notification its reliability.
            _broker.SubscribeAsync(peer.Link!, filter, new SubscriptionOptions(QoS.AtMostOnce)).Forget();
        }

        context.Registered = observation;
        CoapLog.ObservationAdded(_logger, clientId, filter, context.Remote);
        return response;
    }

    private CoapPeer GetOrConnectPeer(string clientId, IPEndPoint remote)
    {
        lock (_lock)
        {
            if (_peers.TryGetValue(clientId, out var existing) && !existing.Closed)
            {
                return existing;
            }
        }

        // Outside our lock: Connect may close an older link with this id, which calls back into ClosePeer.
        var peer = new CoapPeer(this, clientId) { LastConfirmable = _time.GetUtcNow() };
        peer.Link = _broker.Connect(clientId, cleanStart: true, persistent: false, peer, will: null, "coap", remote).Link;
        lock (_lock)
        {
            _peers[clientId] = peer;
        }

        return peer;
    }

    private void ActivateObservation(Observation observation)
    {
        lock (_lock)
        {
            if (observation.Ended)
            {
                return;
            }

            observation.Active = true;
        }

        var link = observation.Peer.Link!;
        if (observation.Filter.AsSpan().IndexOfAny('+', '#') >= 0)
        {
            // A filter's registration response cannot carry several values: they follow as notifications.
            _broker.DeliverRetained(link, observation.Filter, new SubscriptionOptions(QoS.AtMostOnce));
        }

        observation.Peer.OnDeliveriesPending();
    }

    /// <summary>Sends the peer's pending deliveries as notifications; stops while a CON notification is unacknowledged.</summary>
    internal void Drain(CoapPeer peer)
    {
        if (peer.Link is not { } link)
        {
            return;
        }

        var session = link.Session;
        var sent = 0;
        for (var i = 0; i < MaxNotificationsPerDrain; i++)
        {
            lock (_lock)
            {
                if (peer.Closed || peer.Unacknowledged > 0)
                {
                    break;
                }
            }

            var now = _time.GetUtcNow();
            if (!session.TryTakeNext(int.MaxValue, now, out var delivery, out var id))
            {
                break;
            }

            if (id != 0)
            {
                session.Complete(id); // subscriptions are QoS 0; never kept in flight by Core
            }

            lock (_lock)
            {
                foreach (var observation in peer.Observations)
                {
                    if (observation.Active && TopicValidator.Matches(observation.Filter, delivery.Message.Topic))
                    {
                        SendNotificationLocked(observation, delivery.Message, now);
                        sent++;
                    }
                }
            }
        }

        if (sent > 0)
        {
            _broker.Metrics.MessagesSent.Add(sent);
        }

        lock (_lock)
        {
            if (!peer.Closed && peer.Unacknowledged == 0 && session.PendingCount > 0)
            {
                peer.OnDeliveriesPending(); // more than one batch: yield the thread, then go on
            }
        }
    }

    /// <summary>
    /// A notification (RFC 7641 §4.2): 2.05 with the observation's token and the next Observe
    /// number; CON when the observer registered with CON or none was sent for a while (§4.5),
    /// else NON; a large value goes as its first Block2 block (RFC 7959 §3.4).
    /// </summary>
    private void SendNotificationLocked(Observation observation, Message message, DateTimeOffset now)
    {
        var peer = observation.Peer;
        observation.Sequence = (observation.Sequence + 1) & 0xFFFFFF;
        var notification = new CoapMessage { Code = CoapCode.Content, Token = observation.Token };
        notification.AddUInt(CoapOptionNumber.Observe, observation.Sequence);
        var etag = ETagOf(message);
        notification.Add(CoapOptionNumber.ETag, etag);
        var format = ContentFormats.FromMediaType(message.Properties?.ContentType);
        if (format is { } cf)
        {
            notification.AddUInt(CoapOptionNumber.ContentFormat, cf);
        }

        AddMaxAge(notification, message, now);
        var size = 1 << (observation.BlockExponent + 4);
        if (message.Payload.Length > size)
        {
            notification.AddUInt(CoapOptionNumber.Block2, new BlockOption(0, true, observation.BlockExponent).Encode());
            notification.AddUInt(CoapOptionNumber.Size2, (uint)message.Payload.Length);
            notification.Payload = message.Payload[..size];
            _downloads[(observation.Remote, observation.Path)] = new Download(message.Payload, etag, format, now);
        }
        else
        {
            notification.Payload = message.Payload;
        }

        notification.MessageId = NextMessageIdLocked(observation.Remote);
        var confirmable = observation.Confirmable
            || now - peer.LastConfirmable >= TimeSpan.FromSeconds(_options.ConfirmableNotificationSeconds);
        if (confirmable)
        {
            notification.Type = CoapType.Confirmable;
            peer.Unacknowledged++;
            peer.LastConfirmable = now;
            SendConfirmableLocked(CoapCodec.Encode(notification), observation.Remote, notification.MessageId, observation);
        }
        else
        {
            notification.Type = CoapType.NonConfirmable;
            observation.RecentNonIds[observation.NextNonSlot] = notification.MessageId;
            observation.NextNonSlot = (observation.NextNonSlot + 1) % observation.RecentNonIds.Length;
            Send(CoapCodec.Encode(notification), observation.Remote);
        }
    }

    private void OnNotificationAcknowledged(Observation observation)
    {
        lock (_lock)
        {
            observation.Peer.Unacknowledged = Math.Max(0, observation.Peer.Unacknowledged - 1);
        }

        observation.Peer.OnDeliveriesPending();
    }

    private Observation? FindObservationByNonMessageId(ExchangeKey key)
    {
        foreach (var observation in _observations.Values)
        {
            if (observation.Remote.Equals(key.Remote) && Array.IndexOf(observation.RecentNonIds, key.MessageId) >= 0)
            {
                return observation;
            }
        }

        return null;
    }

    private void RemoveObservation(IPEndPoint remote, ReadOnlyMemory<byte> token, string reason)
    {
        Observation? observation;
        lock (_lock)
        {
            _observations.TryGetValue((remote, Convert.ToHexString(token.Span)), out observation);
        }

        if (observation is not null)
        {
            EndObservation(observation, reason, notify: false);
        }
    }

    /// <summary>
    /// Removes an observer; with <paramref name="notify"/> it is told by a final 5.03 notification
    /// (RFC 7641 §3.2: a non-2.xx notification ends the observation). The last observation of a
    /// peer ends its Core session.
    /// </summary>
    internal void EndObservation(Observation observation, string reason, bool notify)
    {
        var peer = observation.Peer;
        bool unsubscribe;
        bool lastOne;
        lock (_lock)
        {
            if (observation.Ended)
            {
                return;
            }

            observation.Ended = true;
            if (_observations.TryGetValue(observation.Key, out var current) && ReferenceEquals(current, observation))
            {
                _observations.Remove(observation.Key);
            }

            peer.Observations.Remove(observation);
            unsubscribe = !peer.Observations.Exists(o => o.Filter == observation.Filter);
            lastOne = peer.Observations.Count == 0;
            if (lastOne)
            {
                peer.Closed = true;
                if (_peers.TryGetValue(peer.ClientId, out var registered) && ReferenceEquals(registered, peer))
                {
                    _peers.Remove(peer.ClientId);
                }
            }

            if (notify)
            {
                var end = new CoapMessage
                {
                    Type = CoapType.NonConfirmable,
                    Code = CoapCode.ServiceUnavailable,
                    MessageId = NextMessageIdLocked(observation.Remote),
                    Token = observation.Token,
                };
                Send(CoapCodec.Encode(end), observation.Remote);
            }
        }

        if (peer.Link is { } link)
        {
            if (lastOne)
            {
                _broker.Disconnect(link, publishWill: false);
            }
            else if (unsubscribe)
            {
                _broker.Unsubscribe(link, observation.Filter);
            }
        }

        CoapLog.ObservationRemoved(_logger, peer.ClientId, observation.Filter, observation.Remote, reason);
    }

    /// <summary>Core closes the peer (another connection took its client id, or shutdown): every observation ends.</summary>
    internal void ClosePeer(CoapPeer peer, CloseReason reason)
    {
        List<Observation> observations;
        lock (_lock)
        {
            observations = [.. peer.Observations];
        }

        foreach (var observation in observations)
        {
            EndObservation(observation, reason.ToString(), notify: true);
        }
    }

    private void EndAllObservations()
    {
        List<Observation> all;
        lock (_lock)
        {
            all = [.. _observations.Values];
        }

        foreach (var observation in all)
        {
            EndObservation(observation, "server stopping", notify: true);
        }
    }
}
