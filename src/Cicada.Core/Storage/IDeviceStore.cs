namespace Cicada.Core.Storage;

/// <summary>
/// A registered device as stored. <paramref name="Attributes"/> holds the fields a client sent
/// beyond the required ones, as the text of a JSON object (kept verbatim, so the registry can
/// round-trip whatever a home-automation client stores without the store knowing its shape).
/// </summary>
public sealed record DeviceRecord(
    string Identifier,
    string Name,
    string DeviceType,
    string ControllerGateway,
    string? Attributes,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? LastSeen);

/// <summary>
/// The durable mirror of the device registry. The registry keeps the devices in memory and is the
/// authority for uniqueness; the store only persists its changes, in call order, with the same
/// write-then-complete promise as <see cref="IBrokerStore"/>: the task completes once the change is
/// durable, and the mutating calls never throw synchronously.
/// </summary>
public interface IDeviceStore
{
    /// <summary>Every stored device, by identifier (ordinal). Called after the store is initialized.</summary>
    Task<IReadOnlyList<DeviceRecord>> LoadDevicesAsync(CancellationToken cancellationToken);

    /// <summary>Inserts or replaces the device with <see cref="DeviceRecord.Identifier"/>.</summary>
    Task SaveDeviceAsync(DeviceRecord device);

    Task DeleteDeviceAsync(string identifier);
}
