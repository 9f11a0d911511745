using System.Text;
using Cicada.Core;
using Cicada.Core.Auth;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Server.Tests;

/// <summary>
/// Reloading the users and ACL files on demand (SIGHUP) and after a change: one log line each with
/// what changed, and a broken file keeps the previous contents.
/// </summary>
public sealed class ReloadTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ListLogger _log = new();

    public void Dispose() => _dir.Dispose();

    private string UsersPath => _dir.File("users");

    private static string Line(string user) => $"{user}:{PasswordHasher.Hash(user + "-pw", 1000)}";

    private UsersFileAuthenticator Authenticator() =>
        new(Options.Create(new AuthOptions { AllowAnonymous = false, UsersFile = UsersPath }), new TypedLogger<UsersFileAuthenticator>(_log));

    private static AuthResult Login(UsersFileAuthenticator authenticator, string user) =>
        authenticator.Authenticate(new AuthRequest("c", user, Encoding.UTF8.GetBytes(user + "-pw"), "test", null));

    /// <summary>Rewrites a file keeping its modification time and length, so only a forced reload sees it.</summary>
    private static void ReplaceUnnoticed(string path, string text)
    {
        var before = new FileInfo(path);
        var (time, length) = (before.LastWriteTimeUtc, before.Length);
        Assert.Equal(length, Encoding.UTF8.GetByteCount(text));

        // Written aside, dated, then renamed over: the broker, which looks at the file every second,
        // never sees it with a new time.
        var temp = path + ".new";
        File.WriteAllText(temp, text);
        File.SetLastWriteTimeUtc(temp, time);
        File.Move(temp, path, overwrite: true);
        Assert.Equal((time, length), (new FileInfo(path).LastWriteTimeUtc, new FileInfo(path).Length));
    }

    [Fact]
    public void UsersFileReload_ReadsAFileWhoseTimeAndSizeDidNotChange_AndLogsWhatChanged()
    {
        var (alice, bob, carl) = (Line("alice"), Line("bobby"), Line("carla"));
        File.WriteAllText(UsersPath, $"{alice}\n{bob}\n");
        var authenticator = Authenticator();
        Assert.Equal(AuthResult.Allowed, Login(authenticator, "bobby"));
        Assert.Contains(_log.Lines, l => l.Contains("loaded (start): 2 users", StringComparison.Ordinal));

        ReplaceUnnoticed(UsersPath, $"{alice}\n{carl}\n");
        Assert.Equal(AuthResult.BadCredentials, Login(authenticator, "carla")); // unnoticed without the signal

        authenticator.Reload("SIGHUP");
        Assert.Equal("Users file " + UsersPath + " loaded (SIGHUP): 2 users; added carla; removed bobby", _log.Lines[^1]);
        Assert.Equal(AuthResult.Allowed, Login(authenticator, "carla"));
        Assert.Equal(AuthResult.BadCredentials, Login(authenticator, "bobby"));
        Assert.Single(_log.Lines, l => l.Contains("(SIGHUP)", StringComparison.Ordinal)); // one line, not a second one at the next login

        authenticator.Reload("SIGHUP");
        Assert.EndsWith("loaded (SIGHUP): 2 users; no change", _log.Lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void UsersFile_ChangedToABrokenFile_KeepsThePreviousUsers_OnReloadAndOnUse()
    {
        File.WriteAllText(UsersPath, Line("alice") + "\n");
        var authenticator = Authenticator();
        Assert.Equal(AuthResult.Allowed, Login(authenticator, "alice"));

        // Noticed at the next login: the new password is not taken, nor is a line that is no user.
        File.WriteAllText(UsersPath, Line("alice").Replace("alice:", "alice-new:", StringComparison.Ordinal) + "\nhalf-written line\n");
        File.SetLastWriteTimeUtc(UsersPath, DateTime.UtcNow.AddSeconds(5));
        Assert.Equal(AuthResult.Allowed, Login(authenticator, "alice"));
        Assert.Equal(AuthResult.BadCredentials, Login(authenticator, "alice-new"));
        Assert.Contains(_log.Lines, l => l.Contains("refused (file changed): lines 2 are not 'username:hash'; the previous 1 users stay in force", StringComparison.Ordinal));

        authenticator.Reload("SIGHUP");
        Assert.EndsWith("refused (SIGHUP): lines 2 are not 'username:hash'; the previous 1 users stay in force", _log.Lines[^1], StringComparison.Ordinal);
        Assert.Equal(AuthResult.Allowed, Login(authenticator, "alice"));

        // Fixed: taken at once.
        File.WriteAllText(UsersPath, Line("alice") + "\n" + Line("dora") + "\n");
        authenticator.Reload("SIGHUP");
        Assert.EndsWith("loaded (SIGHUP): 2 users; added dora; new password for alice", _log.Lines[^1], StringComparison.Ordinal);
        Assert.Equal(AuthResult.Allowed, Login(authenticator, "dora"));
    }

    [Fact]
    public void UsersFile_FirstLoadWithABadLine_UsesTheValidLines()
    {
        // No previous users to keep: refusing the file would lock everyone out at start.
        File.WriteAllText(UsersPath, "nonsense\n" + Line("alice") + "\n");
        var authenticator = Authenticator();
        Assert.Equal(AuthResult.Allowed, Login(authenticator, "alice"));
        Assert.Contains(_log.Lines, l => l.Contains("lines 1 are not 'username:hash' and were ignored", StringComparison.Ordinal));
    }

    [Fact]
    public void AclForcedReload_ReadsAnUnnoticedChange_NamesTheRules_AndKeepsTheOldRulesWhenInvalid()
    {
        var path = _dir.File("acl");
        File.WriteAllText(path, "topic readwrite a/#\n");
        var acl = new AclFileAuthorizer(Options.Create(new AclOptions { AclFile = path }), new TypedLogger<AclFileAuthorizer>(_log));
        var anyone = new ClientIdentity(null, "c", "test");

        ReplaceUnnoticed(path, "topic readwrite b/#\n");
        Assert.False(acl.Reload()); // the heartbeat's look sees nothing
        Assert.True(acl.CanPublish(anyone, "a/1"));

        Assert.True(acl.Reload("SIGHUP", force: true));
        Assert.EndsWith("loaded (SIGHUP): 1 rules, 0 users; 1 rules added (topic readwrite b/#), 1 removed (topic readwrite a/#)", _log.Lines[^1], StringComparison.Ordinal);
        Assert.True(acl.CanPublish(anyone, "b/1"));
        Assert.False(acl.CanPublish(anyone, "a/1"));

        Assert.True(acl.Reload("SIGHUP", force: true));
        Assert.EndsWith("; no change", _log.Lines[^1], StringComparison.Ordinal);

        File.WriteAllText(path, "topic readwrite c/#\nbogus line\n");
        Assert.False(acl.Reload("SIGHUP", force: true));
        Assert.Contains("the previous rules stay in force", _log.Lines[^1], StringComparison.Ordinal);
        Assert.True(acl.CanPublish(anyone, "b/1"));
    }

    private sealed class ListLogger
    {
        private readonly Lock _gate = new();
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_gate)
                    return [.. _lines];
            }
        }

        public void Add(string line)
        {
            lock (_gate)
                _lines.Add(line);
        }
    }

    private sealed class TypedLogger<T>(ListLogger sink) : ILogger<T>
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            sink.Add(formatter(state, exception));
    }
}
