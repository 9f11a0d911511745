namespace Cicada.Storage.Sqlite;

/// <summary>
/// SQLite's <c>PRAGMA synchronous</c> for the writer connection (https://sqlite.org/pragma.html#pragma_synchronous).
/// </summary>
public enum SqliteSynchronousMode
{
    /// <summary>No fsync: fastest, loses acknowledged writes on OS crash or power loss.</summary>
    Off = 0,

    /// <summary>In WAL mode fsyncs only at checkpoints: survives a process crash, not a power loss.</summary>
    Normal = 1,

    /// <summary>Fsyncs the WAL on every commit: an acknowledged write survives power loss (the default).</summary>
    Full = 2,

    /// <summary>Like <see cref="Full"/>, plus an fsync of the directory after unlinking a journal.</summary>
    Extra = 3,
}
