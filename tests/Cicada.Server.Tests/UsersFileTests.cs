using Cicada.Core.Auth;

namespace Cicada.Server.Tests;

public sealed class UsersFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Parse_IgnoresBlanksAndComments_AndReportsBadLines()
    {
        var invalid = new List<int>();
        var users = UsersFile.Parse("# users\n\nalice:$7$1$c2FsdA==$aGFzaA==\r\n   \n  # indented comment\nbroken line\nbob:$6$x$y\n:nouser\nempty:\n", invalid);

        Assert.Equal(["alice", "bob"], users.Keys.Order());
        Assert.Equal("$7$1$c2FsdA==$aGFzaA==", users["alice"]);
        Assert.Equal([6, 8, 9], invalid);
    }

    [Fact]
    public void ScramCredential_AfterTheHash_IsFound_AndTheHashStaysJustTheHash()
    {
        var scram = ScramSha256.CreateCredential("pw", ScramSha256.MinIterations);
        var hash = PasswordHasher.Hash("pw", iterations: 1);
        var path = _dir.File("users");
        UsersFile.SetUser(path, "alice", hash, scram);
        File.AppendAllText(path, "mosq:$6$x$y\nbroken:" + hash + " SCRAM-SHA-256$4096:c2FsdA==$short:short\n");
        var file = new UsersFile(path);

        Assert.True(file.TryGetHash("alice", out var stored, out _));
        Assert.Equal(hash, stored);
        Assert.True(file.TryGetScramCredential("alice", out var found));
        Assert.Equal(scram.Encode(), found.Encode());

        // A mosquitto line has no SCRAM credential; a malformed one is ignored, the hash still read.
        Assert.False(file.TryGetScramCredential("mosq", out _));
        Assert.False(file.TryGetScramCredential("broken", out _));
        Assert.True(file.TryGetHash("broken", out stored, out _));
        Assert.Equal(hash, stored);
        Assert.False(file.TryGetScramCredential("nobody", out _));
    }

    [Fact]
    public void TryGetHash_ReloadsWhenTheFileChanges()
    {
        var path = _dir.File("users");
        File.WriteAllText(path, "alice:hashA\n");
        var file = new UsersFile(path);

        Assert.True(file.TryGetHash("alice", out var hash, out var v1));
        Assert.Equal("hashA", hash);

        File.WriteAllText(path, "bob:hashB\n");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(5));

        Assert.False(file.TryGetHash("alice", out _, out _));
        Assert.True(file.TryGetHash("bob", out hash, out var v2));
        Assert.Equal("hashB", hash);
        Assert.True(v2 > v1);
    }

    [Fact]
    public void TryGetHash_DoesNotReloadAnUnchangedFile()
    {
        var path = _dir.File("users");
        File.WriteAllText(path, "alice:hashA\n");
        var file = new UsersFile(path);

        file.TryGetHash("alice", out _, out var v1);
        file.TryGetHash("alice", out _, out var v2);

        Assert.Equal(v1, v2);
    }

    [Fact]
    public void MissingFile_HasNoUsers_UntilItAppears()
    {
        var path = _dir.File("users");
        var file = new UsersFile(path);

        Assert.False(file.Exists);
        Assert.False(file.TryGetHash("alice", out _, out _));

        File.WriteAllText(path, "alice:hashA\n");
        Assert.True(file.TryGetHash("alice", out _, out _));

        File.Delete(path);
        Assert.False(file.TryGetHash("alice", out _, out _));
    }

    [Fact]
    public void SetUser_CreatesTheFileOwnerReadableOnly()
    {
        var path = _dir.File("sub/users");

        Assert.False(UsersFile.SetUser(path, "alice", PasswordHasher.Hash("pw", 1000)));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.StartsWith("alice:$pbkdf2-sha512$1000$", File.ReadAllText(path), StringComparison.Ordinal);
    }

    [Fact]
    public void SetUser_ReplacesTheUsersLine_AndKeepsEverythingElse()
    {
        var path = _dir.File("users");
        var oldHash = PasswordHasher.Hash("old", 1000);
        File.WriteAllText(path, $"# admins\nalice:{oldHash}\nalicex:{oldHash}\n\nbob:{oldHash}\n");
        var newHash = PasswordHasher.Hash("new", 1000);

        Assert.True(UsersFile.SetUser(path, "alice", newHash));

        Assert.Equal(["# admins", $"alice:{newHash}", $"alicex:{oldHash}", "", $"bob:{oldHash}"], File.ReadAllLines(path));
    }

    [Fact]
    public void SetUser_KeepsAnExistingFilesMode()
    {
        var path = _dir.File("users");
        File.WriteAllText(path, "");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);

        UsersFile.SetUser(path, "alice", PasswordHasher.Hash("pw", 1000));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(path));
    }

    [Fact]
    public void SetUser_RefusesAnythingButAHash()
    {
        var path = _dir.File("users");

        Assert.Throws<ArgumentException>(() => UsersFile.SetUser(path, "alice", "plaintext"));
        Assert.False(File.Exists(path));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a:b")]
    [InlineData("a\nb")]
    [InlineData(" alice")]
    [InlineData("#alice")]
    public void SetUser_RefusesNamesTheFileCannotHold(string username)
    {
        Assert.Throws<ArgumentException>(() => UsersFile.SetUser(_dir.File("users"), username, PasswordHasher.Hash("pw", 1000)));
    }

    [Fact]
    public void RemoveUser_RemovesOnlyThatUser()
    {
        var path = _dir.File("users");
        File.WriteAllText(path, "# c\nalice:h1\nbob:h2\n");

        Assert.True(UsersFile.RemoveUser(path, "alice"));
        Assert.False(UsersFile.RemoveUser(path, "alice"));

        Assert.Equal(["# c", "bob:h2"], File.ReadAllLines(path));
    }
}
