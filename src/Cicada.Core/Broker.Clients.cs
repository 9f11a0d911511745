using Cicada.Core.Sessions;

namespace Cicada.Core;

/// <summary>
/// A client connection began or ended. <paramref name="Abnormal"/> is true when a disconnect was
/// not a normal one (its will, if any, was due: MQTT-3.1.2-8); always false for a connect.
/// </summary>
public readonly record struct ClientEvent(string ClientId, string Protocol, bool Connected, bool Abnormal, DateTimeOffset At);

/// <summary>Told about every client connection that begins or ends, whatever its protocol.</summary>
public interface IClientObserver
{
    /// <summary>
    /// Called outside the broker's locks, on the thread that connected or disconnected the client;
    /// must not block. Events of one client id from different threads may arrive out of order
    /// (a takeover's old connection ends after the new one began): an observer reads the live
    /// state (<see cref="Broker.TryGetSession"/>) rather than trusting the order.
    /// </summary>
    void OnClientEvent(ClientEvent clientEvent);
}

public sealed partial class Broker
{
    private volatile IClientObserver[] _clientObservers = [];
    private readonly Lock _observersLock = new();

    /// <summary>Adds an observer of connects and disconnects (services on top of Core: availability, presence).</summary>
    public void AddClientObserver(IClientObserver observer)
    {
        lock (_observersLock)
        {
            _clientObservers = [.. _clientObservers, observer];
        }
    }

    public void RemoveClientObserver(IClientObserver observer)
    {
        lock (_observersLock)
        {
            _clientObservers = [.. _clientObservers.Where(o => !ReferenceEquals(o, observer))];
        }
    }

    private void NotifyClientConnected(ClientLink link) => Notify(link, connected: true, abnormal: false);

    private void NotifyClientDisconnected(ClientLink link, bool abnormal) => Notify(link, connected: false, abnormal);

    private void Notify(ClientLink link, bool connected, bool abnormal)
    {
        var observers = _clientObservers;
        if (observers.Length == 0)
        {
            return;
        }

        var clientEvent = new ClientEvent(link.ClientId, link.Protocol, connected, abnormal, _time.GetUtcNow());
        foreach (var observer in observers)
        {
            observer.OnClientEvent(clientEvent);
        }
    }
}
