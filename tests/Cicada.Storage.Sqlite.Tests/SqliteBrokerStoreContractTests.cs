using Cicada.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Cicada.Storage.Sqlite.Tests;

/// <summary>
/// The SQLite store against the shared contract, in a temporary folder per test; the
/// SQLite-only checks (files, reopen, durability, group commit) are in the other partial files.
/// </summary>
public sealed partial class SqliteBrokerStoreContractTests : BrokerStoreContractTests
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cicada-store-" + Guid.NewGuid().ToString("N"));

    /// <summary>In a folder that does not exist yet: InitializeAsync creates it.</summary>
    private string DatabasePath => Path.Combine(_directory, "data", "cicada.db");

    private SqliteBrokerStore Sqlite => (SqliteBrokerStore)Store;

    protected override IBrokerStore CreateStore() => new SqliteBrokerStore(DatabasePath);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>Disposes the store and opens a new one on the same file, as a restart does.</summary>
    private async Task ReopenAsync(SqliteBrokerStore? replacement = null)
    {
        await Store.DisposeAsync();
        var store = replacement ?? new SqliteBrokerStore(DatabasePath);
        UseStore(store);
        await store.InitializeAsync(None);
    }

    /// <summary>Queries the file over a connection of its own, independent of the store.</summary>
    private T Query<T>(string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)Convert.ChangeType(command.ExecuteScalar()!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    private long MessageRows => Query<long>("SELECT COUNT(*) FROM messages");
}
