using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Cicada.Storage.Sqlite;

// The single writer: group commit of queued operations.
public sealed partial class SqliteBrokerStore
{
    /// <summary>Most operations per transaction: bounds a transaction's size and its callers' wait.</summary>
    internal const int MaxBatch = 1024;

    private long _committedTransactions;

    // Writer-thread state of the current fault episode (null when writes succeed).
    private DateTime? _faultStarted;
    private long _failedWrites;

    /// <summary>
    /// Writer thread body. A dedicated thread rather than a pool task, because every commit blocks
    /// in fsync: the pool's threads stay free for the connections. Whatever is queued while one
    /// transaction commits becomes the next transaction, so the fsync cost is shared by all the
    /// callers that arrived meanwhile (group commit).
    /// </summary>
    private void RunWriter()
    {
        var reader = _operations.Reader;
        var batch = new List<WriteOperation>(MaxBatch);
        try
        {
            while (WaitToRead(reader))
            {
                while (batch.Count < MaxBatch && reader.TryRead(out var operation))
                {
                    batch.Add(operation);
                }

                if (TryCommit(batch, out var error))
                {
                    EndFaultEpisode();
                }
                else if (batch.Count == 1 || IsLockFault(error))
                {
                    // A lock another process holds fails every write alike, and each retry would
                    // wait out the busy timeout again: the whole batch is refused at once.
                    Fail(batch, error);
                }
                else
                {
                    // Retry one per transaction so only the operation at fault fails, not every
                    // caller that happened to share its batch; order is kept.
                    LogBatchFailed(error, batch.Count);
                    foreach (var operation in batch)
                    {
                        if (TryCommit([operation], out var single))
                        {
                            EndFaultEpisode();
                        }
                        else
                        {
                            Fail([operation], single);
                        }
                    }
                }

                batch.Clear();
            }
        }
        catch (Exception ex)
        {
            // Unreachable by design (TryCommit catches); never leave a caller waiting forever.
            LogWriterCrashed(ex);
            foreach (var operation in batch)
            {
                operation.TrySetException(ex);
            }

            _operations.Writer.TryComplete(ex);
            while (reader.TryRead(out var pending))
            {
                pending.TrySetException(ex);
            }
        }
        finally
        {
            _writerStopped.TrySetResult();
        }
    }

    /// <summary>
    /// Refuses <paramref name="operations"/>: their callers answer with the protocol's error instead
    /// of an acknowledgement. A fault (disk full, read-only folder, a lock held elsewhere) fails every
    /// write until it clears, so it is logged once when it starts and once when writes succeed again,
    /// not once per refused message.
    /// </summary>
    private void Fail(List<WriteOperation> operations, Exception error)
    {
        if (_faultStarted is null)
        {
            _faultStarted = DateTime.UtcNow;
            LogFaultStarted(error, operations[0].GetType().Name);
        }
        else
        {
            LogOperationFailed(error, operations[0].GetType().Name, operations.Count);
        }

        _failedWrites += operations.Count;
        foreach (var operation in operations)
        {
            operation.TrySetException(error);
        }
    }

    private void EndFaultEpisode()
    {
        if (_faultStarted is { } started)
        {
            LogFaultEnded(_failedWrites, DateTime.UtcNow - started);
            _faultStarted = null;
            _failedWrites = 0;
        }
    }

    /// <summary>SQLITE_BUSY (5) or SQLITE_LOCKED (6), extended codes included: the busy timeout has already been waited out.</summary>
    private static bool IsLockFault(Exception error) => error is SqliteException { SqliteErrorCode: var code } && (code & 0xFF) is 5 or 6;

    private static bool WaitToRead(System.Threading.Channels.ChannelReader<WriteOperation> reader)
    {
        var wait = reader.WaitToReadAsync();
        return wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult();
    }

    private static readonly KeyValuePair<string, object?> StoreTag = new("store", "sqlite");

    /// <summary>Runs <paramref name="batch"/> in one transaction; on commit completes every task.</summary>
    private bool TryCommit(List<WriteOperation> batch, out Exception error)
    {
        var statements = _statements!;
        SqliteTransaction? transaction = null;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            // IMMEDIATE: take the write lock up front so the batch cannot fail half-way on
            // SQLITE_BUSY from some other process holding the file.
            transaction = _writerConnection!.BeginTransaction(deferred: false);
            statements.Transaction = transaction;
            foreach (var operation in batch)
            {
                operation.Apply(statements);
            }

            transaction.Commit();
            _metrics?.StoreCommitDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, StoreTag);
        }
        catch (Exception ex)
        {
            try
            {
                transaction?.Rollback();
            }
            catch (Exception rollbackError)
            {
                // SQLite may already have rolled back (e.g. SQLITE_FULL); nothing more to undo.
                LogRollbackFailed(rollbackError);
            }

            transaction?.Dispose();
            error = ex;
            return false;
        }

        transaction.Dispose();
        Interlocked.Increment(ref _committedTransactions);
        foreach (var operation in batch)
        {
            operation.TrySetResult();
        }

        error = null!;
        return true;
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Debug, Message = "SQLite store: a batch of {Count} writes failed; retrying them one by one")]
    private partial void LogBatchFailed(Exception exception, int count);

    [LoggerMessage(EventId = 11, Level = LogLevel.Debug, Message = "SQLite store: write {Operation} (and {Count} in all) failed and was not stored")]
    private partial void LogOperationFailed(Exception exception, string operation, int count);

    [LoggerMessage(EventId = 14, Level = LogLevel.Error, Message = "SQLite store: write {Operation} failed; durable work is refused (clients get the protocol's error, never an acknowledgement) until writes succeed again")]
    private partial void LogFaultStarted(Exception exception, string operation);

    [LoggerMessage(EventId = 15, Level = LogLevel.Warning, Message = "SQLite store: writes succeed again after {Count} refused writes over {Duration}")]
    private partial void LogFaultEnded(long count, TimeSpan duration);

    [LoggerMessage(EventId = 12, Level = LogLevel.Debug, Message = "SQLite store: rollback after a failed batch failed")]
    private partial void LogRollbackFailed(Exception exception);

    [LoggerMessage(EventId = 13, Level = LogLevel.Critical, Message = "SQLite store: the writer stopped; later writes will fail")]
    private partial void LogWriterCrashed(Exception exception);
}
