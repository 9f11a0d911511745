using Cicada.Core;
using Cicada.Core.Sessions;
using Cicada.Core.Topics;

namespace Cicada.Devices;

/// <summary>
/// An in-process Core session for the device services (command replies, discovery): connected
/// like any edge's client, woken through <see cref="IClientConnection"/>, drained on the thread
/// pool one batch at a time, and handing each message to a callback. Its subscriptions are at
/// QoS 0: the messages never leave the process, so there is nothing to acknowledge.
/// </summary>
internal sealed class InternalSubscriber : IClientConnection, IDisposable
{
    private readonly Broker _broker;
    private readonly Action<Message> _onMessage;
    private readonly Lock _drainLock = new();
    private int _scheduled;
    private ClientLink? _link;

    private InternalSubscriber(Broker broker, Action<Message> onMessage)
    {
        _broker = broker;
        _onMessage = onMessage;
    }

    /// <summary>Connects a clean, non-persistent session with a client id no device can guess.</summary>
    public static InternalSubscriber Connect(Broker broker, string purpose, Action<Message> onMessage)
    {
        var subscriber = new InternalSubscriber(broker, onMessage);
        var clientId = $"$devices:{purpose}:{Guid.NewGuid():N}";
        subscriber._link = broker.Connect(clientId, cleanStart: true, persistent: false, subscriber, will: null, "internal", remote: null).Link;
        return subscriber;
    }

    private ClientLink Link => _link ?? throw new ObjectDisposedException(nameof(InternalSubscriber));

    public Task SubscribeAsync(string filter, bool withRetained)
    {
        var options = new SubscriptionOptions(QoS.AtMostOnce);
        var done = _broker.SubscribeAsync(Link, filter, options);
        if (withRetained)
        {
            _broker.DeliverRetained(Link, filter, options);
        }

        return done;
    }

    public void Unsubscribe(string filter)
    {
        if (_link is { } link)
        {
            _broker.Unsubscribe(link, filter);
        }
    }

    public void OnDeliveriesPending()
    {
        if (Interlocked.Exchange(ref _scheduled, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Drain(), this, preferLocal: false);
        }
    }

    private void Drain()
    {
        lock (_drainLock)
        {
            Volatile.Write(ref _scheduled, 0);
            if (_link is not { } link)
            {
                return;
            }

            var session = link.Session;
            while (session.TryTakeNext(int.MaxValue, _broker.Time.GetUtcNow(), out var delivery, out var id))
            {
                if (id != 0)
                {
                    session.Complete(id);
                }

                _onMessage(delivery.Message);
            }
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
}
