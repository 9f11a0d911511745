using Cicada.Core;
using Cicada.Core.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cicada.Http.Devices;

public enum DeviceChange
{
    Done,
    NotFound,
    Duplicate,
}

/// <summary>A device with its live state.</summary>
public readonly record struct DeviceView(DeviceRecord Record, bool Online, DateTimeOffset? LastSeen);

/// <summary>
/// The home-automation device registry. Devices live in memory (a home has hundreds, not
/// millions), loaded from the <see cref="IDeviceStore"/> at startup; every change is written
/// through the store and the caller awaits its durability before answering. A device is online
/// while a client of any protocol whose client id equals its identifier is connected; its
/// <c>last_seen</c> is kept by the broker's one heartbeat, which records the moments devices come
/// and go (one dictionary look-up per device per second).
/// </summary>
public sealed partial class DeviceRegistry(IDeviceStore store, Broker broker, Heartbeat heartbeat, ILogger<DeviceRegistry> logger)
    : IHostedService, IHeartbeatHandler
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _devices = new(StringComparer.Ordinal);

    private sealed class Entry(DeviceRecord record)
    {
        public DeviceRecord Record = record;
        public bool WasOnline;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Runs after Core's startup (registered later), which has initialized the store.
        var devices = await store.LoadDevicesAsync(cancellationToken);
        lock (_lock)
        {
            foreach (var device in devices)
            {
                _devices[device.Identifier] = new Entry(device);
            }
        }

        heartbeat.Register(this);
        LogLoaded(devices.Count);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        heartbeat.Unregister(this);
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

    public bool IsOnline(string identifier) => broker.TryGetSession(identifier, out var session) && session!.IsConnected;

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

            var online = IsOnline(device.Identifier);
            if (online)
            {
                device = device with { LastSeen = broker.Time.GetUtcNow() };
            }

            var entry = new Entry(device) { WasOnline = online };
            _devices.Add(device.Identifier, entry);

            // Queued under the lock: the store applies changes in the registry's order.
            durable = store.SaveDeviceAsync(device);
            view = View(entry);
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
            entry.Record = updated;
            durable = store.SaveDeviceAsync(updated);
            view = View(entry);
        }

        await durable;
        return (DeviceChange.Done, view);
    }

    public async Task<DeviceChange> DeleteAsync(string identifier)
    {
        Task durable;
        lock (_lock)
        {
            if (!_devices.Remove(identifier))
            {
                return DeviceChange.NotFound;
            }

            durable = store.DeleteDeviceAsync(identifier);
        }

        await durable;
        return DeviceChange.Done;
    }

    /// <summary>
    /// Records when devices come online and go offline as their <c>last_seen</c>. A connection
    /// shorter than one tick can go unrecorded; the online state itself is always read live.
    /// </summary>
    public void OnHeartbeat(DateTimeOffset now)
    {
        lock (_lock)
        {
            foreach (var entry in _devices.Values)
            {
                Observe(entry, IsOnline(entry.Record.Identifier), now);
            }
        }
    }

    /// <summary>Records a change of online state as <c>last_seen</c> (under the lock).</summary>
    private void Observe(Entry entry, bool online, DateTimeOffset now)
    {
        if (online == entry.WasOnline)
        {
            return;
        }

        entry.WasOnline = online;
        entry.Record = entry.Record with { LastSeen = now };
        store.SaveDeviceAsync(entry.Record).Forget();
    }

    private DeviceView View(Entry entry)
    {
        // While connected a device is being seen now; once gone, last_seen is when it left. A
        // state seen by a request counts too, so a short connection a tick missed is not lost.
        var online = IsOnline(entry.Record.Identifier);
        var now = broker.Time.GetUtcNow();
        Observe(entry, online, now);
        return new DeviceView(entry.Record, online, online ? now : entry.Record.LastSeen);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Device registry: {Count} devices loaded")]
    private partial void LogLoaded(int count);
}
