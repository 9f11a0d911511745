using System.Threading.Channels;
using Cicada.Core;
using Cicada.Core.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cicada.Storage.Sqlite;

/// <summary>
/// The durable default store: one SQLite file in WAL mode, one batched writer (group commit).
/// Every mutating call queues an operation and returns a task that completes once the transaction
/// holding it has committed (with <see cref="SqliteSynchronousMode.Full"/>, once it is on disk);
/// operations apply in call order. Reads run on their own pooled connections: WAL lets them
/// proceed while the writer commits, and they see every write whose task has completed.
/// </summary>
public sealed partial class SqliteBrokerStore : IBrokerStore
{
    private readonly ILogger _logger;
    private readonly SqliteSynchronousMode _synchronous;
    private readonly CicadaMetrics? _metrics;
    private readonly string _writerConnectionString;
    private readonly string _readerConnectionString;
    private readonly Channel<WriteOperation> _operations = Channel.CreateUnbounded<WriteOperation>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });
    private readonly TaskCompletionSource _writerStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SqliteConnection? _writerConnection;
    private WriterStatements? _statements;
    private Thread? _writerThread;
    private long _lastMessageId;
    private int _disposed;

    /// <summary>How long a write waits for another process's lock before it fails, unless given.</summary>
    public static readonly TimeSpan DefaultBusyTimeout = TimeSpan.FromSeconds(5);

    /// <param name="busyTimeout">How long a statement retries while another process holds the
    /// database lock (SQLITE_BUSY) before it fails; <see cref="DefaultBusyTimeout"/> when null.</param>
    public SqliteBrokerStore(string databasePath, ILogger<SqliteBrokerStore>? logger = null,
        SqliteSynchronousMode synchronous = SqliteSynchronousMode.Full, CicadaMetrics? metrics = null, TimeSpan? busyTimeout = null)
    {
        _metrics = metrics;
        ArgumentException.ThrowIfNullOrEmpty(databasePath);
        DatabasePath = Path.GetFullPath(databasePath);
        _logger = logger ?? NullLogger<SqliteBrokerStore>.Instance;
        _synchronous = synchronous;
        BusyTimeout = busyTimeout ?? DefaultBusyTimeout;
        if (BusyTimeout < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(busyTimeout), BusyTimeout, "The busy timeout is whole seconds, at least 1.");
        }

        // Microsoft.Data.Sqlite retries a statement that gets SQLITE_BUSY/SQLITE_LOCKED (another
        // process in a write transaction, a backup tool) until the command timeout, which every
        // command, BEGIN IMMEDIATE included, takes from Default Timeout. Only then does the write
        // fail and the caller refuse its message (https://sqlite.org/rescode.html#busy).
        var timeoutSeconds = (int)Math.Ceiling(BusyTimeout.TotalSeconds);

        // The writer owns one long-lived connection (unpooled, so disposing really closes the
        // file); readers share a pool of their own.
        _writerConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = timeoutSeconds,
        }.ToString();
        _readerConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = true,
            DefaultTimeout = timeoutSeconds,
        }.ToString();
    }

    public string DatabasePath { get; }

    /// <summary>How long a write waits for a lock another process holds (SQLITE_BUSY) before it fails.</summary>
    public TimeSpan BusyTimeout { get; }

    /// <summary>Transactions committed by the writer so far (group commit makes it far below the call count).</summary>
    internal long CommittedTransactions => Interlocked.Read(ref _committedTransactions);

    public Task InitializeAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_writerThread is not null)
        {
            throw new InvalidOperationException("The store is already initialized.");
        }

        if (Path.GetDirectoryName(DatabasePath) is { Length: > 0 } directory)
        {
            Directory.CreateDirectory(directory);
        }

        var connection = new SqliteConnection(_writerConnectionString);
        try
        {
            connection.Open();
            using (var pragma = connection.CreateCommand())
            {
                // WAL: readers never block the writer nor each other, and a commit appends to one
                // file (https://sqlite.org/wal.html). The mode is persistent in the file.
                pragma.CommandText = "PRAGMA journal_mode = WAL";
                var mode = pragma.ExecuteScalar() as string;
                if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                {
                    throw new InvalidOperationException($"SQLite refused WAL mode for '{DatabasePath}' (got '{mode}').");
                }

                pragma.CommandText = _synchronous switch
                {
                    SqliteSynchronousMode.Off => "PRAGMA synchronous = OFF",
                    SqliteSynchronousMode.Normal => "PRAGMA synchronous = NORMAL",
                    SqliteSynchronousMode.Extra => "PRAGMA synchronous = EXTRA",
                    _ => "PRAGMA synchronous = FULL",
                };
                pragma.ExecuteNonQuery();
            }

            SqliteSchema.Migrate(connection);
            CreateTopologySchema(connection);
            using (var command = connection.CreateCommand())
            {
                // No orphan can outlive a committed transaction, but a file written by an older
                // build (or edited by hand) may hold some: sweep them once, while nothing is queued.
                command.CommandText = "DELETE FROM messages WHERE NOT EXISTS (SELECT 1 FROM queue WHERE queue.message_id = messages.id)";
                var swept = command.ExecuteNonQuery();
                if (swept > 0)
                {
                    LogOrphansSwept(swept);
                }

                command.CommandText = "SELECT COALESCE(MAX(id), 0) FROM messages";
                _lastMessageId = (long)command.ExecuteScalar()!;
            }

            _statements = new WriterStatements(connection);
        }
        catch
        {
            _statements?.Dispose();
            connection.Dispose();
            throw;
        }

        _writerConnection = connection;
        _writerThread = new Thread(RunWriter) { IsBackground = true, Name = "Cicada SQLite writer" };
        _writerThread.Start();
        LogOpened(DatabasePath, _synchronous);
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await _writerStopped.Task.ConfigureAwait(false);
            return;
        }

        // Operations already queued still run; later calls fail to write and fault.
        _operations.Writer.TryComplete();
        if (_writerThread is null)
        {
            while (_operations.Reader.TryRead(out var pending))
            {
                pending.TrySetException(new ObjectDisposedException(nameof(SqliteBrokerStore)));
            }

            _writerStopped.TrySetResult();
        }

        await _writerStopped.Task.ConfigureAwait(false);
        _statements?.Dispose();
        _writerConnection?.Dispose();
        using (var reader = new SqliteConnection(_readerConnectionString))
        {
            // Idle pooled readers keep the file open; closing them lets the file be moved or deleted.
            SqliteConnection.ClearPool(reader);
        }
    }

    public Task SetRetainedAsync(Message message) => Submit(() => new SetRetainedOperation(StoredMessage.From(message)));

    public Task ClearRetainedAsync(string topic) => Submit(() => new ClearRetainedOperation(topic));

    public Task SaveSessionAsync(string clientId, uint expirySeconds, DateTimeOffset? disconnectedAt) =>
        Submit(() => new SaveSessionOperation(clientId, expirySeconds, disconnectedAt?.UtcTicks));

    public Task DeleteSessionAsync(string clientId) => Submit(() => new DeleteSessionOperation(clientId));

    public Task AddSubscriptionAsync(string clientId, SubscriptionRecord subscription) =>
        Submit(() => new AddSubscriptionOperation(clientId, subscription));

    public Task RemoveSubscriptionAsync(string clientId, string filter) =>
        Submit(() => new RemoveSubscriptionOperation(clientId, filter));

    public Task AddReceivedIdAsync(string clientId, int id) => Submit(() => new AddReceivedIdOperation(clientId, id));

    public Task RemoveReceivedIdAsync(string clientId, int id) => Submit(() => new RemoveReceivedIdOperation(clientId, id));

    public Task EnqueueAsync(Message message, IReadOnlyList<QueueTarget> targets) => Submit(() =>
    {
        // The id is assigned here, not on the writer: the caller needs it before this returns (a
        // later enqueue of the same message refers to the row instead of storing it again).
        var isNew = message.StoreId == 0;
        if (isNew)
        {
            message.StoreId = Interlocked.Increment(ref _lastMessageId);
        }

        // The targets are copied: the caller may reuse its list as soon as this returns.
        return new EnqueueOperation(message.StoreId, isNew, StoredMessage.From(message), [.. targets]);
    });

    public Task EnqueueAsync(Message message, IReadOnlyList<QueueTarget> targets, ReceivedId receivedId) => Submit(() =>
    {
        var isNew = message.StoreId == 0;
        if (isNew)
        {
            message.StoreId = Interlocked.Increment(ref _lastMessageId);
        }

        // One operation, so one transaction: the id is never committed without the message.
        return new EnqueueOperation(message.StoreId, isNew, StoredMessage.From(message), [.. targets], receivedId);
    });

    public Task UpdateDeliveryAsync(string clientId, long seq, int packetId, DeliveryState state) =>
        Submit(() => new UpdateDeliveryOperation(clientId, seq, packetId, state));

    public Task RemoveDeliveryAsync(string clientId, long seq) => Submit(() => new RemoveDeliveryOperation(clientId, seq));

    /// <summary>Queues <paramref name="action"/> on the writer, inside a batch transaction (tests).</summary>
    internal Task RunOnWriterAsync(Action<WriterStatements> action) => Submit(() => new DelegateOperation(action));

    /// <summary>
    /// Queues one operation. Never throws: a call after dispose, or one whose arguments cannot even
    /// be captured, returns a faulted task as the contract requires.
    /// </summary>
    private Task Submit(Func<WriteOperation> create)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return Task.FromException(new ObjectDisposedException(nameof(SqliteBrokerStore)));
        }

        WriteOperation operation;
        try
        {
            operation = create();
        }
        catch (Exception ex)
        {
            return Task.FromException(ex);
        }

        if (!_operations.Writer.TryWrite(operation))
        {
            // Lost the race with DisposeAsync completing the channel.
            operation.TrySetException(new ObjectDisposedException(nameof(SqliteBrokerStore)));
        }

        return operation.Task;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Opened SQLite store {Path} (WAL, synchronous {Synchronous})")]
    private partial void LogOpened(string path, SqliteSynchronousMode synchronous);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Deleted {Count} stored messages no queue entry referred to")]
    private partial void LogOrphansSwept(int count);
}
