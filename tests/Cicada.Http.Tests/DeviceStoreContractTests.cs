using Cicada.Core.Storage;
using Cicada.Http.Tests.Support;
using Cicada.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Cicada.Http.Tests;

/// <summary>The <see cref="IDeviceStore"/> contract, run against both stores.</summary>
public abstract class DeviceStoreContractTests
{
    protected abstract Task<IDeviceStore> OpenAsync();

    protected virtual Task CloseAsync(IDeviceStore store) => Task.CompletedTask;

    private static DeviceRecord Device(string id, string? attributes = null, DateTimeOffset? lastSeen = null) =>
        new(id, "Name " + id, "light", "gw", attributes, new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(7),
            new DateTimeOffset(2026, 1, 2, 3, 4, 6, TimeSpan.Zero), lastSeen);

    [Fact]
    public async Task SavedDevices_LoadInIdentifierOrder_FieldForField()
    {
        var store = await OpenAsync();
        var b = Device("b", """{"room":"hall"}""", new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero));
        var a = Device("a");
        await store.SaveDeviceAsync(b);
        await store.SaveDeviceAsync(a);

        Assert.Equal([a, b], await store.LoadDevicesAsync(CancellationToken.None));
        await CloseAsync(store);
    }

    [Fact]
    public async Task Save_ReplacesTheDeviceWithTheSameIdentifier_Delete_RemovesIt()
    {
        var store = await OpenAsync();
        await store.SaveDeviceAsync(Device("a"));
        var changed = Device("a", """{"x":1}""") with { Name = "Other" };
        await store.SaveDeviceAsync(changed);
        await store.SaveDeviceAsync(Device("b"));
        await store.DeleteDeviceAsync("b");
        await store.DeleteDeviceAsync("never-there");

        Assert.Equal([changed], await store.LoadDevicesAsync(CancellationToken.None));
        await CloseAsync(store);
    }
}

public sealed class MemoryDeviceStoreContractTests : DeviceStoreContractTests
{
    protected override Task<IDeviceStore> OpenAsync() => Task.FromResult<IDeviceStore>(new MemoryDeviceStore());
}

public sealed class SqliteDeviceStoreContractTests : DeviceStoreContractTests, IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cicada-devstore-" + Guid.NewGuid().ToString("N"));

    private string DatabasePath => Path.Combine(_dir, "cicada.db");

    protected override async Task<IDeviceStore> OpenAsync()
    {
        var store = new SqliteBrokerStore(DatabasePath, synchronous: SqliteSynchronousMode.Normal);
        await store.InitializeAsync(CancellationToken.None);
        return store;
    }

    protected override async Task CloseAsync(IDeviceStore store) => await ((SqliteBrokerStore)store).DisposeAsync();

    [Fact]
    public async Task Devices_SurviveReopeningTheFile()
    {
        var store = await OpenAsync();
        var device = new DeviceRecord("lamp", "Lamp", "light", "gw", """{"room":"kitchen"}""", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, null);
        await store.SaveDeviceAsync(device);
        await CloseAsync(store);

        var reopened = await OpenAsync();
        Assert.Equal([device], await reopened.LoadDevicesAsync(CancellationToken.None));
        await CloseAsync(reopened);
    }

    [Fact]
    public async Task SchemaVersion1File_IsMigratedTo2_KeepingItsData()
    {
        // A file as the previous build left it: schema 1 with a retained message, no devices table.
        Directory.CreateDirectory(_dir);
        var first = await OpenAsync();
        await ((SqliteBrokerStore)first).SetRetainedAsync(new Core.Message("keep/me", "v"u8.ToArray(), Core.QoS.AtMostOnce, true));
        await CloseAsync(first);
        using (var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "DROP TABLE devices; PRAGMA user_version = 1;";
            command.ExecuteNonQuery();
        }

        var store = await OpenAsync();
        Assert.Empty(await store.LoadDevicesAsync(CancellationToken.None));
        await store.SaveDeviceAsync(new DeviceRecord("d", "D", "t", "g", null, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, null));
        Assert.Single(await store.LoadDevicesAsync(CancellationToken.None));
        Assert.Single(await ((SqliteBrokerStore)store).LoadRetainedAsync(CancellationToken.None));
        await CloseAsync(store);

        using var check = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        check.Open();
        using var version = check.CreateCommand();
        version.CommandText = "PRAGMA user_version";
        Assert.Equal(2L, (long)version.ExecuteScalar()!);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>With the default SQLite storage, the registry survives a restart of the broker.</summary>
public sealed class DevicePersistenceTests
{
    [Fact]
    public async Task RegisteredDevice_SurvivesARestart_WithSqliteStorage()
    {
        var dir = Path.Combine(Path.GetTempPath(), "cicada-devpersist-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var broker = await BrokerProcess.StartAsync("sqlite", dir))
            {
                var (status, _, _) = Tools.Curl("-X", "POST", $"{broker.BaseUrl}/api/v1/devices", "-H", "Content-Type: application/json",
                    "--data-binary", """{"identifier":"boiler","name":"Boiler","device_type":"thermostat","controller_gateway":"zigbee-1","zone":2}""");
                Assert.Equal(201, status);
            }

            await using (var broker = await BrokerProcess.StartAsync("sqlite", dir))
            {
                var (status, body, _) = Tools.Curl($"{broker.BaseUrl}/api/v1/devices/boiler");
                Assert.Equal(200, status);
                var data = System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("data");
                Assert.Equal("zigbee-1", data.GetProperty("controller_gateway").GetString());
                Assert.Equal(2, data.GetProperty("zone").GetInt32());
            }
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
