using Microsoft.Data.Sqlite;

namespace Cicada.Storage.Sqlite;

/// <summary>Schema creation and migration, versioned with <c>PRAGMA user_version</c>.</summary>
internal static class SqliteSchema
{
    /// <summary>The version this build writes; a newer file is refused rather than misread.</summary>
    public const int CurrentVersion = 2;

    // Times are UTC ticks (100 ns units since 0001-01-01) so DateTimeOffset round-trips exactly.
    // The queue keeps only references: a message fanned out to N sessions is stored once.
    // No foreign keys: a subscription, received id or queue row may exist before (or without)
    // its session header, as the contract allows; orphaned messages are deleted explicitly.
    private const string Version1 = """
        CREATE TABLE messages(
            id INTEGER PRIMARY KEY,
            topic TEXT NOT NULL,
            payload BLOB,
            qos INTEGER NOT NULL,
            retain INTEGER NOT NULL,
            properties BLOB,
            origin_client_id TEXT,
            expires_at INTEGER);
        CREATE TABLE queue(
            client_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            message_id INTEGER NOT NULL,
            qos INTEGER NOT NULL,
            packet_id INTEGER NOT NULL,
            state INTEGER NOT NULL,
            PRIMARY KEY(client_id, seq)) WITHOUT ROWID;
        CREATE INDEX queue_by_message ON queue(message_id);
        CREATE TABLE retained(
            topic TEXT PRIMARY KEY,
            payload BLOB,
            qos INTEGER NOT NULL,
            retain INTEGER NOT NULL,
            properties BLOB,
            origin_client_id TEXT,
            expires_at INTEGER);
        CREATE TABLE sessions(
            client_id TEXT PRIMARY KEY,
            expiry_seconds INTEGER NOT NULL,
            disconnected_at INTEGER) WITHOUT ROWID;
        CREATE TABLE subscriptions(
            client_id TEXT NOT NULL,
            filter TEXT NOT NULL,
            max_qos INTEGER NOT NULL,
            no_local INTEGER NOT NULL,
            retain_as_published INTEGER NOT NULL,
            retain_handling INTEGER NOT NULL,
            subscription_id INTEGER NOT NULL,
            PRIMARY KEY(client_id, filter)) WITHOUT ROWID;
        CREATE TABLE received_ids(
            client_id TEXT NOT NULL,
            id INTEGER NOT NULL,
            PRIMARY KEY(client_id, id)) WITHOUT ROWID;
        PRAGMA user_version = 1;
        """;

    // Version 2: the device registry (HTTP /api/v1/devices). Attributes are the extra fields a
    // client sent, as JSON text; times are UTC ticks like the rest of the schema.
    private const string Version2 = """
        CREATE TABLE devices(
            identifier TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            device_type TEXT NOT NULL,
            controller_gateway TEXT NOT NULL,
            attributes TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            last_seen INTEGER) WITHOUT ROWID;
        PRAGMA user_version = 2;
        """;

    /// <summary>Brings the file to <see cref="CurrentVersion"/> in one transaction.</summary>
    public static void Migrate(SqliteConnection connection)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA user_version";
        var version = Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        if (version > CurrentVersion)
        {
            throw new InvalidOperationException(
                $"The database '{connection.DataSource}' has schema version {version}, newer than this build's {CurrentVersion}.");
        }

        if (version < 1)
        {
            command.CommandText = Version1;
            command.ExecuteNonQuery();
        }

        if (version < 2)
        {
            command.CommandText = Version2;
            command.ExecuteNonQuery();
        }

        // Later versions: `if (version < 3) { ALTER …; PRAGMA user_version = 3; }`, in order.
        transaction.Commit();
    }
}
