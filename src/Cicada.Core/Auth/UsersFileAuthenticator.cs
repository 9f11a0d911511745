using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Core.Auth;

/// <summary>
/// The default <see cref="IAuthenticator"/>: users and hashes from the <see cref="UsersFile"/>,
/// anonymous clients as <see cref="AuthOptions.AllowAnonymous"/> says.
/// <list type="bullet">
/// <item>No username and no password: allowed when anonymous is allowed, else NotAuthorized.</item>
/// <item>A (non-empty) password without a username: BadCredentials — MQTT 3.1.1 forbids it
/// (MQTT-3.1.2-22) and under MQTT 5 there is no user to check it against.</item>
/// <item>A username: the users file must hold it and the password must match, else BadCredentials;
/// a username with no password field (MQTT 3.1.2.9 makes the password optional) fails for a user
/// who has one, as every user in the file does. A username is never downgraded to anonymous.</item>
/// </list>
/// A successful verification is remembered per user as SHA-256(stored hash ‖ password), so a
/// reconnect storm costs one SHA-256 per CONNECT instead of a full PBKDF2. The entry is bound to the
/// stored hash, so a changed password can never match an old entry; the cache is also dropped when
/// the file is reloaded.
/// </summary>
public sealed partial class UsersFileAuthenticator : IAuthenticator
{
    private readonly AuthOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, byte[]> _verified = new(StringComparer.Ordinal);
    private readonly Lock _reportLock = new();
    private long _seenVersion;
    private long _reportedVersion;
    private IReadOnlyDictionary<string, string>? _reportedUsers;
    private long _hashVerifications;

    public UsersFileAuthenticator(IOptions<AuthOptions> options, ILogger<UsersFileAuthenticator> logger)
    {
        _options = options.Value;
        _logger = logger;
        if (!string.IsNullOrEmpty(_options.UsersFile))
            UsersFile = new UsersFile(_options.UsersFile);
    }

    /// <summary>The users file in use, or null when none is configured.</summary>
    public UsersFile? UsersFile { get; }

    public bool AllowAnonymous => _options.AllowAnonymous;

    /// <summary>Full hash verifications run (cache misses); for metrics and to check the cache works.</summary>
    public long HashVerifications => Interlocked.Read(ref _hashVerifications);

    public ValueTask<AuthResult> AuthenticateAsync(AuthRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Authenticate(request));

    public AuthResult Authenticate(AuthRequest request)
    {
        if (request.Username is null)
        {
            // An empty password counts as none here: a null byte[] silently becomes a non-null empty
            // ReadOnlyMemory<byte>?, and an anonymous client must not fail for an edge's slip.
            if (request.Password is { Length: > 0 })
            {
                LogPasswordWithoutUsername(request.Protocol, request.ClientId);
                return AuthResult.BadCredentials;
            }
            if (_options.AllowAnonymous)
                return AuthResult.Allowed;
            LogAnonymousRefused(request.Protocol, request.ClientId);
            return AuthResult.NotAuthorized;
        }

        if (UsersFile is null)
        {
            LogUnknownUser(request.Protocol, request.ClientId, request.Username);
            return AuthResult.BadCredentials;
        }

        var known = UsersFile.TryGetHash(request.Username, out var hash, out var version);
        NoticeReload(version);
        if (!known)
        {
            LogUnknownUser(request.Protocol, request.ClientId, request.Username);
            return AuthResult.BadCredentials;
        }
        if (request.Password is not { } password)
        {
            LogBadPassword(request.Protocol, request.ClientId, request.Username);
            return AuthResult.BadCredentials;
        }

        var key = CacheKey(hash, password.Span);
        if (_verified.TryGetValue(request.Username, out var cached) && CryptographicOperations.FixedTimeEquals(cached, key))
            return AuthResult.Allowed;

        Interlocked.Increment(ref _hashVerifications);
        if (!PasswordHasher.Verify(hash, password.Span))
        {
            LogBadPassword(request.Protocol, request.ClientId, request.Username);
            return AuthResult.BadCredentials;
        }
        _verified[request.Username] = key;
        return AuthResult.Allowed;
    }

    /// <summary>Whether the users file holds <paramref name="username"/> (it then decides that user's logins alone).</summary>
    public bool Knows(string username)
    {
        if (UsersFile is null)
            return false;
        var known = UsersFile.TryGetHash(username, out _, out var version);
        NoticeReload(version);
        return known;
    }

    /// <summary>
    /// Re-reads the users file now, changed or not (SIGHUP), and logs one line: the users added,
    /// removed or given a new password, or why the file was refused (its previous users stay).
    /// Connections already open are not touched: a user removed now is refused at its next login.
    /// </summary>
    public void Reload(string trigger)
    {
        if (UsersFile is not { } file)
        {
            LogNoUsersFile(trigger);
            return;
        }

        Report(file.Reload(), trigger);
    }

    private void NoticeReload(long version)
    {
        var seen = Interlocked.Read(ref _seenVersion);
        if (seen == version || Interlocked.CompareExchange(ref _seenVersion, version, seen) != seen)
            return;
        Report(UsersFile!.Contents, seen == 0 ? "start" : "file changed");
    }

    /// <summary>One log line for a load of the file, with what changed since the last one reported.</summary>
    private void Report(UsersFile.Snapshot snapshot, string trigger)
    {
        lock (_reportLock)
        {
            if (snapshot.Version < _reportedVersion)
                return; // a newer load was reported already
            _reportedVersion = snapshot.Version;
            Interlocked.Exchange(ref _seenVersion, Math.Max(Interlocked.Read(ref _seenVersion), snapshot.Version));
            _verified.Clear();

            var path = UsersFile!.Path;
            if (snapshot.Error is { } error)
            {
                if (snapshot.Exists)
                    LogUsersFileRefused(path, trigger, error, snapshot.Users.Count);
                else
                    LogUsersFileUnreadable(path, trigger, error);
                return;
            }

            if (!snapshot.Exists)
            {
                LogUsersFileMissing(path, trigger);
                _reportedUsers = snapshot.Users;
                return;
            }

            LogUsersFileLoaded(path, trigger, snapshot.Users.Count, _reportedUsers is { } before ? Changes(before, snapshot.Users) : string.Empty);
            if (snapshot.InvalidLines.Count > 0)
                LogUsersFileInvalidLines(path, string.Join(", ", snapshot.InvalidLines));
            _reportedUsers = snapshot.Users;
        }
    }

    /// <summary><c>; added bob; removed carol; new password for alice</c>, or <c>; no change</c>.</summary>
    private static string Changes(IReadOnlyDictionary<string, string> before, IReadOnlyDictionary<string, string> after)
    {
        var added = after.Keys.Where(u => !before.ContainsKey(u)).Order(StringComparer.Ordinal).ToList();
        var removed = before.Keys.Where(u => !after.ContainsKey(u)).Order(StringComparer.Ordinal).ToList();
        var changed = after.Where(p => before.TryGetValue(p.Key, out var old) && old != p.Value).Select(p => p.Key).Order(StringComparer.Ordinal).ToList();
        var text = new StringBuilder();
        if (added.Count > 0)
            text.Append("; added ").AppendJoin(", ", added);
        if (removed.Count > 0)
            text.Append("; removed ").AppendJoin(", ", removed);
        if (changed.Count > 0)
            text.Append("; new password for ").AppendJoin(", ", changed);
        return text.Length == 0 ? "; no change" : text.ToString();
    }

    private static byte[] CacheKey(string storedHash, ReadOnlySpan<byte> password)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(storedHash));
        sha.AppendData([0]);
        sha.AppendData(password);
        return sha.GetHashAndReset();
    }

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Users file {Path} loaded ({Trigger}): {Count} users{Changes}")]
    private partial void LogUsersFileLoaded(string path, string trigger, int count, string changes);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Users file {Path} does not exist ({Trigger}): no user can log in")]
    private partial void LogUsersFileMissing(string path, string trigger);

    [LoggerMessage(EventId = 108, Level = LogLevel.Error, Message = "Users file {Path} refused ({Trigger}): {Error}; the previous {Count} users stay in force")]
    private partial void LogUsersFileRefused(string path, string trigger, string error, int count);

    [LoggerMessage(EventId = 109, Level = LogLevel.Error, Message = "Users file {Path} could not be read ({Trigger}): {Error}; no user can log in")]
    private partial void LogUsersFileUnreadable(string path, string trigger, string error);

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "Users: no users file is configured, nothing to reload ({Trigger})")]
    private partial void LogNoUsersFile(string trigger);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Users file {Path}: lines {Lines} are not 'username:hash' and were ignored")]
    private partial void LogUsersFileInvalidLines(string path, string lines);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "{Protocol} client {ClientId} refused: anonymous clients are not allowed")]
    private partial void LogAnonymousRefused(string protocol, string clientId);

    [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "{Protocol} client {ClientId} refused: password without a username")]
    private partial void LogPasswordWithoutUsername(string protocol, string clientId);

    [LoggerMessage(EventId = 106, Level = LogLevel.Information, Message = "{Protocol} client {ClientId} refused: unknown user {Username}")]
    private partial void LogUnknownUser(string protocol, string clientId, string username);

    [LoggerMessage(EventId = 107, Level = LogLevel.Information, Message = "{Protocol} client {ClientId} refused: wrong or missing password for user {Username}")]
    private partial void LogBadPassword(string protocol, string clientId, string username);
}
