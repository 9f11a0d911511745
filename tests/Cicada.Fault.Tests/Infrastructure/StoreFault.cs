
namespace Cicada.Fault.Tests.Infrastructure;

/// <summary>A fault of the running broker's SQLite store that a test turns on and off.</summary>
public abstract class StoreFault : IAsyncDisposable
{
    public abstract Task InjectAsync();

    public abstract Task ClearAsync();

    public virtual ValueTask DisposeAsync() => new(ClearAsync());

    /// <summary>The fault named by a test's data row; null when this machine cannot make it.</summary>
    public static async Task<StoreFault?> TryCreateAsync(string kind, string dataDirectory) => kind switch
    {
        "read-only" => await ReadOnlyFolder.TryCreateAsync(dataDirectory),
        "locked" => new LockHeldElsewhere(Path.Combine(dataDirectory, "cicada.db")),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "read-only or locked"),
    };
}

/// <summary>
/// A read-only data folder under a running broker: <c>chattr +i</c> (immutable) on the folder, the
/// database and its write-ahead log. Root ignores permission bits, so <c>chmod</c> would not stop
/// the broker, but an immutable file refuses every write, through descriptors already open too
/// (EPERM), as a file system remounted read-only does. The shared-memory index (<c>-shm</c>) is
/// left alone: it is memory-mapped, and a write fault there would be SIGBUS, not an error code.
/// </summary>
public sealed class ReadOnlyFolder : StoreFault
{
    private readonly string _directory;
    private List<string> _frozen = [];

    private ReadOnlyFolder(string directory) => _directory = directory;

    /// <summary>Null where <c>chattr</c> is missing or the file system has no immutable flag (tmpfs on old kernels).</summary>
    public static async Task<ReadOnlyFolder?> TryCreateAsync(string directory)
    {
        var probe = Path.Combine(directory, "chattr-probe");
        await File.WriteAllTextAsync(probe, "probe");
        try
        {
            var set = await TryRunAsync("chattr", ["+i", probe]);
            await TryRunAsync("chattr", ["-i", probe]);
            return set ? new ReadOnlyFolder(directory) : null;
        }
        finally
        {
            File.Delete(probe);
        }
    }

    public override async Task InjectAsync()
    {
        _frozen = [.. new[] { "cicada.db", "cicada.db-wal" }.Select(f => Path.Combine(_directory, f)).Where(File.Exists), _directory];
        var result = await ExternalProcess.RunAsync("chattr", ["+i", .. _frozen]);
        Assert.True(result.ExitCode == 0, $"chattr +i failed: {result}");
    }

    public override async Task ClearAsync()
    {
        if (_frozen.Count > 0)
        {
            var result = await ExternalProcess.RunAsync("chattr", ["-i", .. _frozen]);
            Assert.True(result.ExitCode == 0, $"chattr -i failed: {result}");
            _frozen = [];
        }
    }

    private static async Task<bool> TryRunAsync(string file, string[] arguments)
    {
        try
        {
            return (await ExternalProcess.RunAsync(file, arguments)).ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}

/// <summary>
/// Another process holding the database's write lock (<c>BEGIN EXCLUSIVE</c> through Python's
/// sqlite3), as a backup tool or an operator's <c>sqlite3</c> shell would: every write of the
/// broker gets SQLITE_BUSY. Ending the process releases the lock.
/// </summary>
public sealed class LockHeldElsewhere(string databasePath) : StoreFault
{
    private const string Script = """
        import sqlite3, sys, time
        c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
        c.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        time.sleep(300)
        """;

    private ExternalProcess? _holder;

    public override async Task InjectAsync()
    {
        _holder = ExternalProcess.Start("/usr/bin/python3", ["-c", Script, databasePath]);
        await _holder.WaitForLineAsync(l => l == "locked", TimeSpan.FromSeconds(40), "the lock holder's 'locked'");
    }

    public override async Task ClearAsync()
    {
        if (_holder is { } holder)
        {
            _holder = null;
            await holder.DisposeAsync(); // kills it: the OS drops its locks with the process
        }
    }
}
