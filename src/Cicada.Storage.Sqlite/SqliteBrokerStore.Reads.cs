using Cicada.Core;
using Cicada.Core.Storage;
using Cicada.Core.Topics;
using Microsoft.Data.Sqlite;

namespace Cicada.Storage.Sqlite;

// Loads: each on its own pooled connection in one read transaction, a consistent snapshot that
// holds every committed write. They run synchronously (Microsoft.Data.Sqlite's async methods do
// too) and happen at startup and on session resume, not per message.
public sealed partial class SqliteBrokerStore
{
    public Task<IReadOnlyList<Message>> LoadRetainedAsync(CancellationToken cancellationToken) =>
        Read(cancellationToken, static (connection, transaction) =>
        {
            using var command = Command(connection, transaction,
                "SELECT topic, payload, qos, retain, properties, origin_client_id, expires_at FROM retained ORDER BY topic");
            using var reader = command.ExecuteReader();
            var result = new List<Message>();
            while (reader.Read())
            {
                result.Add(ReadMessage(reader, 0));
            }

            return (IReadOnlyList<Message>)result;
        });

    public Task<IReadOnlyList<SessionRecord>> LoadSessionsAsync(CancellationToken cancellationToken) =>
        Read(cancellationToken, static (connection, transaction) =>
        {
            // A session exists when it has a header or anything stored under its client id:
            // subscriptions, received ids or queue entries may be written before the header.
            var sessions = new SortedDictionary<string, PendingSession>(StringComparer.Ordinal);
            PendingSession Get(string clientId)
            {
                if (!sessions.TryGetValue(clientId, out var session))
                {
                    session = new PendingSession();
                    sessions.Add(clientId, session);
                }

                return session;
            }

            using (var command = Command(connection, transaction, "SELECT client_id, expiry_seconds, disconnected_at FROM sessions"))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    var session = Get(reader.GetString(0));
                    session.ExpirySeconds = (uint)reader.GetInt64(1);
                    session.DisconnectedAt = StoredMessage.ToTime(reader.IsDBNull(2) ? null : reader.GetInt64(2));
                }
            }

            using (var command = Command(connection, transaction, """
                SELECT client_id, filter, max_qos, no_local, retain_as_published, retain_handling, subscription_id
                FROM subscriptions ORDER BY client_id, filter
                """))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    var options = new SubscriptionOptions(
                        (QoS)reader.GetInt64(2), reader.GetBoolean(3), reader.GetBoolean(4), (byte)reader.GetInt64(5), reader.GetInt32(6));
                    Get(reader.GetString(0)).Subscriptions.Add(new SubscriptionRecord(reader.GetString(1), options));
                }
            }

            using (var command = Command(connection, transaction, "SELECT client_id, id FROM received_ids ORDER BY client_id, id"))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    Get(reader.GetString(0)).ReceivedIds.Add(reader.GetInt32(1));
                }
            }

            using (var command = Command(connection, transaction, "SELECT DISTINCT client_id FROM queue"))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    Get(reader.GetString(0));
                }
            }

            return (IReadOnlyList<SessionRecord>)
            [
                .. sessions.Select(kv => new SessionRecord(
                    kv.Key, kv.Value.ExpirySeconds, kv.Value.DisconnectedAt, kv.Value.Subscriptions, kv.Value.ReceivedIds)),
            ];
        });

    public Task<IReadOnlyList<QueuedRecord>> LoadQueueAsync(string clientId, CancellationToken cancellationToken) =>
        Read(cancellationToken, (connection, transaction) =>
        {
            using var command = Command(connection, transaction, """
                SELECT q.seq, q.qos, q.packet_id, q.state,
                       m.topic, m.payload, m.qos, m.retain, m.properties, m.origin_client_id, m.expires_at, m.id
                FROM queue q JOIN messages m ON m.id = q.message_id
                WHERE q.client_id = $c ORDER BY q.seq
                """);
            command.Parameters.AddWithValue("$c", clientId);
            using var reader = command.ExecuteReader();

            // Entries that share a message share one instance, as they did before the restart.
            var messages = new Dictionary<long, Message>();
            var result = new List<QueuedRecord>();
            while (reader.Read())
            {
                var id = reader.GetInt64(11);
                if (!messages.TryGetValue(id, out var message))
                {
                    message = ReadMessage(reader, 4);
                    message.StoreId = id;
                    messages.Add(id, message);
                }

                result.Add(new QueuedRecord(
                    reader.GetInt64(0), message, (QoS)reader.GetInt64(1), reader.GetInt32(2), (DeliveryState)reader.GetInt64(3)));
            }

            return (IReadOnlyList<QueuedRecord>)result;
        });

    private Task<T> Read<T>(CancellationToken cancellationToken, Func<SqliteConnection, SqliteTransaction, T> read)
    {
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            using var connection = new SqliteConnection(_readerConnectionString);
            connection.Open();
            using var transaction = connection.BeginTransaction(deferred: true);
            var result = read(connection, transaction);
            transaction.Commit();
            return Task.FromResult(result);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(cancellationToken);
        }
        catch (Exception ex)
        {
            return Task.FromException<T>(ex);
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    /// <summary>Reads topic, payload, qos, retain, properties, origin, expires-at from column <paramref name="first"/> on.</summary>
    private static Message ReadMessage(SqliteDataReader reader, int first) => new(
        reader.GetString(first),
        reader.IsDBNull(first + 1) ? ReadOnlyMemory<byte>.Empty : reader.GetFieldValue<byte[]>(first + 1),
        (QoS)reader.GetInt64(first + 2),
        reader.GetBoolean(first + 3),
        MessagePropertiesCodec.Decode(reader.IsDBNull(first + 4) ? null : reader.GetFieldValue<byte[]>(first + 4)),
        reader.IsDBNull(first + 5) ? null : reader.GetString(first + 5),
        StoredMessage.ToTime(reader.IsDBNull(first + 6) ? null : reader.GetInt64(first + 6)));

    private sealed class PendingSession
    {
        public uint ExpirySeconds;
        public DateTimeOffset? DisconnectedAt;
        public readonly List<SubscriptionRecord> Subscriptions = [];
        public readonly List<int> ReceivedIds = [];
    }
}
