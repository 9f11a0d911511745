using Cicada.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Cicada.Storage.Sqlite;

/// <summary>
/// Every write the store makes, as statements prepared once on the writer connection. Only the
/// writer thread touches this; <see cref="Transaction"/> is the batch currently open.
/// </summary>
internal sealed class WriterStatements : IDisposable
{
    private readonly PreparedStatement _insertMessage;
    private readonly PreparedStatement _messageExists;
    private readonly PreparedStatement _releaseReplacedMessage;
    private readonly PreparedStatement _insertQueue;
    private readonly PreparedStatement _replaceQueue;
    private readonly PreparedStatement _updateQueue;
    private readonly PreparedStatement _releaseQueuedMessage;
    private readonly PreparedStatement _deleteQueue;
    private readonly PreparedStatement _upsertRetained;
    private readonly PreparedStatement _deleteRetained;
    private readonly PreparedStatement _upsertSession;
    private readonly PreparedStatement _releaseSessionMessages;
    private readonly PreparedStatement _deleteSessionQueue;
    private readonly PreparedStatement _deleteSessionSubscriptions;
    private readonly PreparedStatement _deleteSessionReceivedIds;
    private readonly PreparedStatement _deleteSession;
    private readonly PreparedStatement _upsertSubscription;
    private readonly PreparedStatement _deleteSubscription;
    private readonly PreparedStatement _insertReceivedId;
    private readonly PreparedStatement _deleteReceivedId;
    private readonly PreparedStatement[] _all;

    public WriterStatements(SqliteConnection connection)
    {
        _insertMessage = new(connection,
            "INSERT INTO messages(id, topic, payload, qos, retain, properties, origin_client_id, expires_at) VALUES($id, $t, $p, $q, $r, $pr, $o, $e)",
            "$id", "$t", "$p", "$q", "$r", "$pr", "$o", "$e");
        _messageExists = new(connection, "SELECT EXISTS(SELECT 1 FROM messages WHERE id = $id)", "$id");

        // A new entry is the common case: one insert. Overwriting an entry (same client and seq)
        // is rare but must not orphan the message it pointed to: release that first, then replace.
        _insertQueue = new(connection,
            "INSERT INTO queue(client_id, seq, message_id, qos, packet_id, state) VALUES($c, $s, $m, $q, 0, 0) ON CONFLICT DO NOTHING",
            "$c", "$s", "$m", "$q");
        _releaseReplacedMessage = new(connection, """
            DELETE FROM messages WHERE id = (SELECT message_id FROM queue WHERE client_id = $c AND seq = $s AND message_id <> $m)
              AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.message_id = messages.id AND NOT (q.client_id = $c AND q.seq = $s))
            """, "$c", "$s", "$m");
        _replaceQueue = new(connection,
            "INSERT OR REPLACE INTO queue(client_id, seq, message_id, qos, packet_id, state) VALUES($c, $s, $m, $q, 0, 0)",
            "$c", "$s", "$m", "$q");
        _updateQueue = new(connection,
            "UPDATE queue SET packet_id = $p, state = $st WHERE client_id = $c AND seq = $s",
            "$c", "$s", "$p", "$st");

        // The message goes with its last queue entry (run before deleting the entry).
        _releaseQueuedMessage = new(connection, """
            DELETE FROM messages WHERE id = (SELECT message_id FROM queue WHERE client_id = $c AND seq = $s)
              AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.message_id = messages.id AND NOT (q.client_id = $c AND q.seq = $s))
            """, "$c", "$s");
        _deleteQueue = new(connection, "DELETE FROM queue WHERE client_id = $c AND seq = $s", "$c", "$s");

        _upsertRetained = new(connection,
            "INSERT OR REPLACE INTO retained(topic, payload, qos, retain, properties, origin_client_id, expires_at) VALUES($t, $p, $q, $r, $pr, $o, $e)",
            "$t", "$p", "$q", "$r", "$pr", "$o", "$e");
        _deleteRetained = new(connection, "DELETE FROM retained WHERE topic = $t", "$t");

        _upsertSession = new(connection,
            "INSERT OR REPLACE INTO sessions(client_id, expiry_seconds, disconnected_at) VALUES($c, $x, $d)",
            "$c", "$x", "$d");
        _releaseSessionMessages = new(connection, """
            DELETE FROM messages WHERE id IN (SELECT message_id FROM queue WHERE client_id = $c)
              AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.message_id = messages.id AND q.client_id <> $c)
            """, "$c");
        _deleteSessionQueue = new(connection, "DELETE FROM queue WHERE client_id = $c", "$c");
        _deleteSessionSubscriptions = new(connection, "DELETE FROM subscriptions WHERE client_id = $c", "$c");
        _deleteSessionReceivedIds = new(connection, "DELETE FROM received_ids WHERE client_id = $c", "$c");
        _deleteSession = new(connection, "DELETE FROM sessions WHERE client_id = $c", "$c");

        _upsertSubscription = new(connection, """
            INSERT OR REPLACE INTO subscriptions(client_id, filter, max_qos, no_local, retain_as_published, retain_handling, subscription_id)
            VALUES($c, $f, $q, $nl, $rap, $rh, $id)
            """, "$c", "$f", "$q", "$nl", "$rap", "$rh", "$id");
        _deleteSubscription = new(connection, "DELETE FROM subscriptions WHERE client_id = $c AND filter = $f", "$c", "$f");
        _insertReceivedId = new(connection, "INSERT OR IGNORE INTO received_ids(client_id, id) VALUES($c, $id)", "$c", "$id");
        _deleteReceivedId = new(connection, "DELETE FROM received_ids WHERE client_id = $c AND id = $id", "$c", "$id");

        _all =
        [
            _insertMessage, _messageExists, _releaseReplacedMessage, _insertQueue, _replaceQueue, _updateQueue, _releaseQueuedMessage,
            _deleteQueue, _upsertRetained, _deleteRetained, _upsertSession, _releaseSessionMessages, _deleteSessionQueue,
            _deleteSessionSubscriptions, _deleteSessionReceivedIds, _deleteSession, _upsertSubscription,
            _deleteSubscription, _insertReceivedId, _deleteReceivedId,
        ];
    }

    /// <summary>The open batch transaction every statement runs in.</summary>
    public SqliteTransaction Transaction { get; set; } = null!;

    public void Enqueue(long messageId, bool isNew, in StoredMessage message, QueueTarget[] targets)
    {
        if (targets.Length == 0)
        {
            // Nothing refers to it: storing the row would only leak it. A later enqueue of the
            // same message (StoreId kept) writes it then.
            return;
        }

        // A message enqueued before (StoreId set) may have lost its row meanwhile, when its last
        // queue entry went; it is written again then rather than leaving dangling entries.
        if (isNew || !Convert.ToBoolean(_messageExists.Bind(0, messageId).Scalar(Transaction), System.Globalization.CultureInfo.InvariantCulture))
        {
            _insertMessage.Bind(0, messageId).Bind(1, message.Topic).Bind(2, message.Payload).Bind(3, message.Qos)
                .Bind(4, message.Retain).Bind(5, message.Properties).Bind(6, message.OriginClientId).Bind(7, message.ExpiresAt)
                .Execute(Transaction);
        }

        foreach (var target in targets)
        {
            var qos = (long)target.Qos;
            if (_insertQueue.Bind(0, target.ClientId).Bind(1, target.Seq).Bind(2, messageId).Bind(3, qos).Execute(Transaction) == 0)
            {
                _releaseReplacedMessage.Bind(0, target.ClientId).Bind(1, target.Seq).Bind(2, messageId).Execute(Transaction);
                _replaceQueue.Bind(0, target.ClientId).Bind(1, target.Seq).Bind(2, messageId).Bind(3, qos).Execute(Transaction);
            }
        }
    }

    public void UpdateDelivery(string clientId, long seq, int packetId, DeliveryState state) =>
        _updateQueue.Bind(0, clientId).Bind(1, seq).Bind(2, packetId).Bind(3, (long)state).Execute(Transaction);

    public void RemoveDelivery(string clientId, long seq)
    {
        _releaseQueuedMessage.Bind(0, clientId).Bind(1, seq).Execute(Transaction);
        _deleteQueue.Bind(0, clientId).Bind(1, seq).Execute(Transaction);
    }

    public void SetRetained(in StoredMessage message) =>
        _upsertRetained.Bind(0, message.Topic).Bind(1, message.Payload).Bind(2, message.Qos).Bind(3, message.Retain)
            .Bind(4, message.Properties).Bind(5, message.OriginClientId).Bind(6, message.ExpiresAt).Execute(Transaction);

    public void ClearRetained(string topic) => _deleteRetained.Bind(0, topic).Execute(Transaction);

    public void SaveSession(string clientId, uint expirySeconds, long? disconnectedAt) =>
        _upsertSession.Bind(0, clientId).Bind(1, (long)expirySeconds).Bind(2, disconnectedAt).Execute(Transaction);

    public void DeleteSession(string clientId)
    {
        _releaseSessionMessages.Bind(0, clientId).Execute(Transaction);
        _deleteSessionQueue.Bind(0, clientId).Execute(Transaction);
        _deleteSessionSubscriptions.Bind(0, clientId).Execute(Transaction);
        _deleteSessionReceivedIds.Bind(0, clientId).Execute(Transaction);
        _deleteSession.Bind(0, clientId).Execute(Transaction);
    }

    public void AddSubscription(string clientId, SubscriptionRecord subscription)
    {
        var o = subscription.Options;
        _upsertSubscription.Bind(0, clientId).Bind(1, subscription.Filter).Bind(2, (long)o.MaxQos).Bind(3, o.NoLocal)
            .Bind(4, o.RetainAsPublished).Bind(5, (long)o.RetainHandling).Bind(6, o.SubscriptionId).Execute(Transaction);
    }

    public void RemoveSubscription(string clientId, string filter) =>
        _deleteSubscription.Bind(0, clientId).Bind(1, filter).Execute(Transaction);

    public void AddReceivedId(string clientId, int id) => _insertReceivedId.Bind(0, clientId).Bind(1, id).Execute(Transaction);

    public void RemoveReceivedId(string clientId, int id) => _deleteReceivedId.Bind(0, clientId).Bind(1, id).Execute(Transaction);

    public void Dispose()
    {
        foreach (var statement in _all)
        {
            statement.Dispose();
        }
    }
}
