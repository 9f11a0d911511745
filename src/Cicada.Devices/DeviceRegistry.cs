using Cicada.Core;
using Cicada.Core.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cicada.Devices;

public enum DeviceChange
{
    Done,
    NotFound,
    Duplicate,
}

/// <summary>A device with its live state.</summary>
public readonly record struct DeviceView(DeviceRecord Record, bool Online, DateTimeOffset? LastSeen, DeviceTopics Topics);

/// <summary>
/// The home-automation device registry. Devices live in memory (a home has hundreds, not
/// millions), loaded from the <see cref="IDeviceStore"/> at startup; every change is written
/// through the store and the caller awaits its durability before answering, then announced on
/// <c>$devices/events</c>. A device is online while a client of any protocol whose client id is its
/// identifier — or its <c>controller_gateway</c> — is connected, or while its announced
/// availability topic says <c>online</c>; the broker's connect/disconnect notifications keep
/// <c>last_seen</c> and the retained <c>{root}/availability</c> exact (see DeviceRegistry.Availability.cs).
/// </summary>
public sealed partial class DeviceRegistry(IDeviceStore store, Broker broker, ILogger<DeviceRegistry> logger) : IHostedService
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _devices = new(StringComparer.Ordinal);

    /// <summary>Gateway client id → the devices behind it (for a gateway's connect/disconnect).</summary>
    private readonly Dictionary<string, HashSet<string>> _byGateway = new(StringComparer.Ordinal);

    private sealed class Entry(DeviceRecord record)
    {
        public DeviceRecord Record = record;
        public DeviceTopics Topics = DeviceTopics.Of(record);
        public bool WasOnline;
    }

    public Broker Broker => broker;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Runs after Core's startup (registered later), which has initialized the store.
        var devices = await store.LoadDevicesAsync(cancellationToken);
        broker.AddClientObserver(this);
        lock (_lock)
        {
            foreach (var device in devices)
            {
                var entry = new Entry(device);
                _devices[device.Identifier] = entry;
                IndexGateway(entry, add: true);
            }

            // A retained "online" stored before a crash is stale: every device's availability is
            // published afresh from the live state.
            foreach (var entry in _devices.Values)
            {
                entry.WasOnline = ComputeOnline(entry);
                PublishAvailability(entry);
            }
        }

        LogLoaded(devices.Count);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        broker.RemoveClientObserver(this);
        return Task.CompletedTask;
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _devices.Count;
            }
        }
    }

    public bool IsConnected(string clientId) => broker.TryGetSession(clientId, out var session) && session!.IsConnected;

    public DeviceView? Get(string identifier)
    {
        lock (_lock)
        {
            return _devices.TryGetValue(identifier, out var entry) ? View(entry) : null;
        }
    }

    /// <summary>Devices sorted by identifier (ordinal), filtered.</summary>
    public List<DeviceView> List(string? deviceType, string? controllerGateway, bool? online)
    {
        var result = new List<DeviceView>();
        lock (_lock)
        {
            foreach (var entry in _devices.Values)
            {
                var r = entry.Record;
                if ((deviceType is null || r.DeviceType == deviceType) && (controllerGateway is null || r.ControllerGateway == controllerGateway))
                {
                    var view = View(entry);
                    if (online is null || view.Online == online)
                    {
                        result.Add(view);
                    }
                }
            }
        }

        result.Sort(static (a, b) => string.CompareOrdinal(a.Record.Identifier, b.Record.Identifier));
        return result;
    }

    public async Task<(DeviceChange Outcome, DeviceView? Device)> AddAsync(DeviceRecord device)
    {
        Task durable;
        DeviceView view;
        lock (_lock)
        {
            if (_devices.TryGetValue(device.Identifier, out var existing))
            {
                return (DeviceChange.Duplicate, View(existing));
            }

            var entry = new Entry(device);
            var online = ComputeOnline(entry);
            if (online)
            {
                entry.Record = device = device with { LastSeen = broker.Time.GetUtcNow() };
            }

            entry.WasOnline = online;
            _devices.Add(device.Identifier, entry);
            IndexGateway(entry, add: true);

            // Queued under the lock: the store applies changes in the registry's order.
            durable = store.SaveDeviceAsync(device);
            view = View(entry);
            PublishAvailability(entry);
            PublishEvent("registered", view);
        }

        await durable;
        return (DeviceChange.Done, view);
    }

    /// <summary>Replaces a device's fields through <paramref name="update"/> (which gets the current record).</summary>
    public async Task<(DeviceChange Outcome, DeviceView? Device)> UpdateAsync(string identifier, Func<DeviceRecord, DeviceRecord> update)
    {
        Task durable;
        DeviceView view;
        lock (_lock)
        {
            if (!_devices.TryGetValue(identifier, out var entry))
            {
                return (DeviceChange.NotFound, null);
            }

            var updated = update(entry.Record) with
            {
                Identifier = identifier,
                CreatedAt = entry.Record.CreatedAt,
                LastSeen = entry.Record.LastSeen,
                UpdatedAt = broker.Time.GetUtcNow(),
            };
            var oldTopics = entry.Topics;
            IndexGateway(entry, add: false);
            entry.Record = updated;
            entry.Topics = DeviceTopics.Of(updated);
            IndexGateway(entry, add: true);
            if (oldTopics.BrokerOwnsAvailability && oldTopics.AvailabilityTopic != entry.Topics.AvailabilityTopic)
            {
                // Moved: the old root keeps no stale availability.
                Publish(oldTopics.AvailabilityTopic, "", retain: true);
            }

            durable = store.SaveDeviceAsync(updated);
            Reevaluate(entry, broker.Time.GetUtcNow(), null);
            view = View(entry);
            PublishAvailability(entry);
            PublishEvent("updated", view);
        }

        await durable;
        return (DeviceChange.Done, view);
    }

    public async Task<DeviceChange> DeleteAsync(string identifier)
    {
        Task durable;
        lock (_lock)
        {
            if (!_devices.Remove(identifier, out var entry))
            {
                return DeviceChange.NotFound;
            }

            IndexGateway(entry, add: false);
            durable = store.DeleteDeviceAsync(identifier);
            if (entry.Topics.BrokerOwnsAvailability)
            {
                // An empty retained message clears it (MQTT-3.3.1-10): a removed device has no availability.
                Publish(entry.Topics.AvailabilityTopic, "", retain: true);
            }

            PublishEvent("removed", identifier, null);
        }

        await durable;
        return DeviceChange.Done;
    }

    /// <summary>Where the device of <paramref name="identifier"/> lives in the topic space; null when not registered.</summary>
    public DeviceTopics? TopicsOf(string identifier)
    {
        lock (_lock)
        {
            return _devices.TryGetValue(identifier, out var entry) ? entry.Topics : null;
        }
    }

    private void IndexGateway(Entry entry, bool add)
    {
        var gateway = entry.Record.ControllerGateway;
        if (gateway == entry.Record.Identifier)
        {
            return;
        }

        if (add)
        {
            if (!_byGateway.TryGetValue(gateway, out var set))
            {
                _byGateway[gateway] = set = new HashSet<string>(StringComparer.Ordinal);
            }

            set.Add(entry.Record.Identifier);
        }
        else if (_byGateway.TryGetValue(gateway, out var set) && set.Remove(entry.Record.Identifier) && set.Count == 0)
        {
            _byGateway.Remove(gateway);
        }
    }

    private DeviceView View(Entry entry)
    {
        // While online a device is being seen now; once gone, last_seen is when it left.
        var online = ComputeOnline(entry);
        return new DeviceView(entry.Record, online, online ? broker.Time.GetUtcNow() : entry.Record.LastSeen, entry.Topics);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Device registry: {Count} devices loaded")]
    private partial void LogLoaded(int count);
}
