namespace Cicada.Core.Storage;

/// <summary>The non-durable device store (<c>--storage memory</c>, tests): devices live as long as the process.</summary>
public sealed class MemoryDeviceStore : IDeviceStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, DeviceRecord> _devices = new(StringComparer.Ordinal);

    public Task<IReadOnlyList<DeviceRecord>> LoadDevicesAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<DeviceRecord>>(
                [.. _devices.Values.OrderBy(d => d.Identifier, StringComparer.Ordinal)]);
        }
    }

    public Task SaveDeviceAsync(DeviceRecord device)
    {
        lock (_lock)
        {
            _devices[device.Identifier] = device;
        }

        return Task.CompletedTask;
    }

    public Task DeleteDeviceAsync(string identifier)
    {
        lock (_lock)
        {
            _devices.Remove(identifier);
        }

        return Task.CompletedTask;
    }
}
