using Cicada.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Cicada.Storage.Sqlite;

// The device registry's table. Writes go through the same single writer as everything else
// (ordered with them, group-committed, durable before the task completes); they are rare
// (registration, edits, a device going offline), so their statements are built per operation
// instead of being prepared up front with the per-message ones.
public sealed partial class SqliteBrokerStore : IDeviceStore
{
    public Task<IReadOnlyList<DeviceRecord>> LoadDevicesAsync(CancellationToken cancellationToken) =>
        Read(cancellationToken, static (connection, transaction) =>
        {
            using var command = Command(connection, transaction, """
                SELECT identifier, name, device_type, controller_gateway, attributes, created_at, updated_at, last_seen
                FROM devices ORDER BY identifier
                """);
            using var reader = command.ExecuteReader();
            var result = new List<DeviceRecord>();
            while (reader.Read())
            {
                result.Add(new DeviceRecord(
                    reader.GetString(0),
                    reader.GetString(1),
                    reader.GetString(2),
                    reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetString(4),
                    StoredMessage.ToTime(reader.GetInt64(5))!.Value,
                    StoredMessage.ToTime(reader.GetInt64(6))!.Value,
                    StoredMessage.ToTime(reader.IsDBNull(7) ? null : reader.GetInt64(7))));
            }

            return (IReadOnlyList<DeviceRecord>)result;
        });

    public Task SaveDeviceAsync(DeviceRecord device) => Submit(() => new SaveDeviceOperation(device));

    public Task DeleteDeviceAsync(string identifier) => Submit(() => new DeleteDeviceOperation(identifier));

    private sealed class SaveDeviceOperation(DeviceRecord device) : WriteOperation
    {
        public override void Apply(WriterStatements statements)
        {
            using var command = WriterCommand(statements, """
                INSERT OR REPLACE INTO devices(identifier, name, device_type, controller_gateway, attributes, created_at, updated_at, last_seen)
                VALUES($i, $n, $t, $g, $a, $c, $u, $s)
                """);
            command.Parameters.AddWithValue("$i", device.Identifier);
            command.Parameters.AddWithValue("$n", device.Name);
            command.Parameters.AddWithValue("$t", device.DeviceType);
            command.Parameters.AddWithValue("$g", device.ControllerGateway);
            command.Parameters.AddWithValue("$a", (object?)device.Attributes ?? DBNull.Value);
            command.Parameters.AddWithValue("$c", device.CreatedAt.UtcTicks);
            command.Parameters.AddWithValue("$u", device.UpdatedAt.UtcTicks);
            command.Parameters.AddWithValue("$s", device.LastSeen is { } seen ? seen.UtcTicks : DBNull.Value);
            command.ExecuteNonQuery();
        }
    }

    private sealed class DeleteDeviceOperation(string identifier) : WriteOperation
    {
        public override void Apply(WriterStatements statements)
        {
            using var command = WriterCommand(statements, "DELETE FROM devices WHERE identifier = $i");
            command.Parameters.AddWithValue("$i", identifier);
            command.ExecuteNonQuery();
        }
    }

    /// <summary>A one-off command in the writer's open batch transaction.</summary>
    private static SqliteCommand WriterCommand(WriterStatements statements, string sql)
    {
        var transaction = statements.Transaction;
        var command = transaction.Connection!.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }
}
