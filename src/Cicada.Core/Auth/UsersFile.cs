using System.Text;

namespace Cicada.Core.Auth;

/// <summary>
/// The users file: one <c>username:hash</c> line per user, blank lines and <c>#</c> comments
/// ignored (mosquitto's password file has the same shape, so one can be used as it is). After the
/// hash, separated by one space, a line may carry the user's SCRAM-SHA-256 credential in RFC 5803's
/// form (<c>alice:$pbkdf2-sha512$… SCRAM-SHA-256$15000:salt$StoredKey:ServerKey</c>), which
/// <c>cicada passwd</c> writes: a password hash cannot answer a SCRAM exchange, and the SCRAM
/// credential cannot be derived later without the password. The file
/// is re-read when its modification time or length changes, checked on use: one <c>stat</c> per
/// lookup costs far less than the hashing a lookup precedes, and needs no watcher thread.
/// </summary>
public sealed class UsersFile
{
    private readonly Lock _lock = new();
    private Snapshot _snapshot = Snapshot.Empty;

    public UsersFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = System.IO.Path.GetFullPath(path);
    }

    public string Path { get; }

    /// <summary>Increases every time the file is (re)loaded; caches of verified passwords key on it.</summary>
    public long Version => Current().Version;

    public bool Exists => Current().Exists;

    public int Count => Current().Users.Count;

    /// <summary>Lines that are neither users, blanks nor comments in the last load.</summary>
    public IReadOnlyList<int> InvalidLines => Current().InvalidLines;

    /// <summary>The stored hash of <paramref name="username"/>, reloading the file first if it changed.</summary>
    public bool TryGetHash(string username, out string hash, out long version)
    {
        var snapshot = Current();
        version = snapshot.Version;
        if (!snapshot.Users.TryGetValue(username, out var entry))
        {
            hash = null!;
            return false;
        }
        var space = entry.IndexOf(' ', StringComparison.Ordinal);
        hash = space < 0 ? entry : entry[..space];
        return true;
    }

    /// <summary>The SCRAM-SHA-256 credential on <paramref name="username"/>'s line; false when it has none or it is malformed.</summary>
    public bool TryGetScramCredential(string username, out ScramCredential credential)
    {
        credential = null!;
        if (!Current().Users.TryGetValue(username, out var entry))
            return false;
        var parts = entry.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 1; i < parts.Length; i++)
        {
            if (ScramCredential.TryParse(parts[i], out credential))
                return true;
        }
        return false;
    }

    /// <summary>Parses users-file text; duplicate users keep their last line, as a later edit wins.</summary>
    public static Dictionary<string, string> Parse(string text, List<int>? invalidLines = null)
    {
        var users = new Dictionary<string, string>(StringComparer.Ordinal);
        var lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            var line = rawLine.TrimEnd('\r');
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#'))
                continue;
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == line.Length - 1)
            {
                invalidLines?.Add(lineNumber);
                continue;
            }
            users[line[..colon]] = line[(colon + 1)..].Trim();
        }
        return users;
    }

    /// <summary>True for a name that can be stored: not empty, no <c>:</c> (the separator), no control characters.</summary>
    public static bool IsValidUsername(string? username) =>
        !string.IsNullOrEmpty(username)
        && !username.Contains(':', StringComparison.Ordinal)
        && !username.Any(char.IsControl)
        && username.Trim().Length == username.Length
        && !username.StartsWith('#');

    /// <summary>
    /// Adds or replaces <paramref name="username"/>'s line, keeping every other line (comments too).
    /// Writes a temporary file then renames it over the old one, so a broker reading the file sees
    /// either the old or the new content, never half. A new file is created readable by its owner only.
    /// Returns true when the user already existed.
    /// </summary>
    public static bool SetUser(string path, string username, string hash) => SetUser(path, username, hash, scram: null);

    /// <summary><see cref="SetUser(string, string, string)"/> with the user's SCRAM-SHA-256 credential after the hash.</summary>
    public static bool SetUser(string path, string username, string hash, ScramCredential? scram)
    {
        if (!IsValidUsername(username))
            throw new ArgumentException($"Invalid username '{username}'.", nameof(username));
        if (!PasswordHasher.TryParse(hash, out _))
            throw new ArgumentException("Not a password hash: the users file never stores plain text.", nameof(hash));
        var value = scram is null ? hash : $"{hash} {scram.Encode()}";

        var lines = ReadLines(path);
        var replaced = false;
        for (var i = 0; i < lines.Count; i++)
        {
            if (IsLineOf(lines[i], username))
            {
                if (replaced)
                {
                    lines.RemoveAt(i--);
                    continue;
                }
                lines[i] = $"{username}:{value}";
                replaced = true;
            }
        }
        if (!replaced)
            lines.Add($"{username}:{value}");
        WriteAtomically(path, lines);
        return replaced;
    }

    /// <summary>Removes <paramref name="username"/>'s line(s); false when the user was not there.</summary>
    public static bool RemoveUser(string path, string username)
    {
        var lines = ReadLines(path);
        var removed = lines.RemoveAll(l => IsLineOf(l, username)) > 0;
        if (removed)
            WriteAtomically(path, lines);
        return removed;
    }

    private Snapshot Current()
    {
        var (exists, stamp) = Stamp(Path);
        var snapshot = Volatile.Read(ref _snapshot);
        if (snapshot.Exists == exists && snapshot.Stamp == stamp && snapshot.Version != 0)
            return snapshot;

        lock (_lock)
        {
            snapshot = _snapshot;
            if (snapshot.Exists == exists && snapshot.Stamp == stamp && snapshot.Version != 0)
                return snapshot;
            var next = Load(exists, stamp, snapshot.Version + 1);
            Volatile.Write(ref _snapshot, next);
            return next;
        }
    }

    private Snapshot Load(bool exists, (DateTime, long) stamp, long version)
    {
        if (!exists)
            return new Snapshot(version, false, stamp, new Dictionary<string, string>(), []);
        try
        {
            var invalid = new List<int>();
            var users = Parse(File.ReadAllText(Path, Encoding.UTF8), invalid);
            return new Snapshot(version, true, stamp, users, invalid);
        }
        catch (IOException)
        {
            // Vanished between stat and read (an editor's rename): treat as changed-but-empty,
            // and the next lookup stats and loads it again.
            return new Snapshot(version, false, default, new Dictionary<string, string>(), []);
        }
        catch (UnauthorizedAccessException)
        {
            return new Snapshot(version, false, default, new Dictionary<string, string>(), []);
        }
    }

    private static (bool Exists, (DateTime, long) Stamp) Stamp(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? (true, (info.LastWriteTimeUtc, info.Length)) : (false, default);
    }

    private static bool IsLineOf(string line, string username) =>
        line.StartsWith(username, StringComparison.Ordinal)
        && line.Length > username.Length
        && line[username.Length] == ':';

    private static List<string> ReadLines(string path)
    {
        if (!File.Exists(path))
            return [];
        var lines = File.ReadAllText(path, Encoding.UTF8).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (lines.Count > 0 && lines[^1].Length == 0)
            lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    private static void WriteAtomically(string path, List<string> lines)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        var directory = System.IO.Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(directory);
        var temp = System.IO.Path.Combine(directory, $".{System.IO.Path.GetFileName(fullPath)}.{Environment.ProcessId}.tmp");

        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            // Keep an existing file's mode (an admin may have opened it to a group); new files are 0600.
            options.UnixCreateMode = File.Exists(fullPath)
                ? File.GetUnixFileMode(fullPath)
                : UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        File.Delete(temp); // a leftover from a crash would keep its old mode
        try
        {
            using (var stream = new FileStream(temp, options))
            using (var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)))
            {
                foreach (var line in lines)
                {
                    writer.Write(line);
                    writer.Write('\n');
                }
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, fullPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
    }

    private sealed record Snapshot(
        long Version,
        bool Exists,
        (DateTime, long) Stamp,
        IReadOnlyDictionary<string, string> Users,
        IReadOnlyList<int> InvalidLines)
    {
        public static readonly Snapshot Empty = new(0, false, default, new Dictionary<string, string>(), []);
    }
}
