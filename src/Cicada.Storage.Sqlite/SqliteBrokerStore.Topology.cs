using Cicada.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Cicada.Storage.Sqlite;

// Edges' durable declarations (AMQP queues, exchanges, bindings): one key/value table apart from
// the versioned schema, created with IF NOT EXISTS so it needs no migration step of its own.
public sealed partial class SqliteBrokerStore : ITopologyStore
{
    /// <summary>Creates the topology table if missing; called from <see cref="InitializeAsync"/> after the schema migration.</summary>
    private static void CreateTopologySchema(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "CREATE TABLE IF NOT EXISTS topology(key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID";
        command.ExecuteNonQuery();
    }

    public Task<IReadOnlyList<TopologyRecord>> LoadTopologyAsync(CancellationToken cancellationToken) =>
        Read(cancellationToken, static (connection, transaction) =>
        {
            using var command = Command(connection, transaction, "SELECT key, value FROM topology ORDER BY key");
            using var reader = command.ExecuteReader();
            var result = new List<TopologyRecord>();
            while (reader.Read())
            {
                result.Add(new TopologyRecord(reader.GetString(0), reader.GetString(1)));
            }

            return (IReadOnlyList<TopologyRecord>)result;
        });

    public Task SaveTopologyAsync(TopologyRecord record) => Submit(() => new TopologyOperation(
        "INSERT INTO topology(key, value) VALUES($k, $v) ON CONFLICT(key) DO UPDATE SET value = excluded.value", record.Key, record.Value));

    public Task DeleteTopologyAsync(string key) => Submit(() => new TopologyOperation("DELETE FROM topology WHERE key = $k", key, null));

    /// <summary>One topology write, in the writer's batch transaction like every other write.</summary>
    private sealed class TopologyOperation(string sql, string key, string? value) : WriteOperation
    {
        public override void Apply(WriterStatements statements)
        {
            var transaction = statements.Transaction!;
            using var command = transaction.Connection!.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            command.Parameters.AddWithValue("$k", key);
            if (value is not null)
            {
                command.Parameters.AddWithValue("$v", value);
            }

            command.ExecuteNonQuery();
        }
    }
}
