using System.Text;
using Cicada.Core;
using Cicada.Core.Auth;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cicada.Server.Tests;

/// <summary><c>cicada passwd</c> end to end, in-process: arguments in, users file out, broker authenticator reading it.</summary>
public sealed class PasswdCommandTests : IDisposable
{
    private readonly CliHarness _cli = new();
    private readonly TempDirectory _dir = new();

    public void Dispose()
    {
        _cli.Dispose();
        _dir.Dispose();
    }

    private string UsersPath => _dir.File("users");

    [Fact]
    public async Task PasswordFromStdin_AddsAHashedUser_TheBrokerAccepts()
    {
        _cli.Input = "s3cret\n";

        Assert.Equal(0, await _cli.RunAsync("passwd", "--file", UsersPath, "alice"));

        var text = await File.ReadAllTextAsync(UsersPath);
        Assert.DoesNotContain("s3cret", text, StringComparison.Ordinal);
        Assert.StartsWith("alice:$pbkdf2-sha512$100000$", text, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(UsersPath));
        Assert.Equal(AuthResult.Allowed, Authenticate("alice", "s3cret"));
        Assert.Equal(AuthResult.BadCredentials, Authenticate("alice", "s3cret\n"));
        Assert.Null(_cli.Served);
    }

    [Fact]
    public async Task PasswordOption_UpdatesAnExistingUser()
    {
        Assert.Equal(0, await _cli.RunAsync("passwd", "--file", UsersPath, "alice", "--password", "one"));
        Assert.Equal(0, await _cli.RunAsync("passwd", "--file", UsersPath, "alice", "--password", "two"));

        Assert.Single(await File.ReadAllLinesAsync(UsersPath));
        Assert.Contains("Updated", _cli.Out.ToString(), StringComparison.Ordinal);
        Assert.Equal(AuthResult.BadCredentials, Authenticate("alice", "one"));
        Assert.Equal(AuthResult.Allowed, Authenticate("alice", "two"));
    }

    [Fact]
    public async Task Delete_RemovesTheUser()
    {
        await _cli.RunAsync("passwd", "--file", UsersPath, "alice", "--password", "one");
        await _cli.RunAsync("passwd", "--file", UsersPath, "bob", "--password", "two");

        Assert.Equal(0, await _cli.RunAsync("passwd", "--file", UsersPath, "alice", "--delete"));

        Assert.Equal(AuthResult.BadCredentials, Authenticate("alice", "one"));
        Assert.Equal(AuthResult.Allowed, Authenticate("bob", "two"));
    }

    [Fact]
    public async Task Delete_OfAnUnknownUser_ExitsWith1()
    {
        Assert.Equal(1, await _cli.RunAsync("passwd", "--file", UsersPath, "ghost", "--delete"));
        Assert.Contains("ghost", _cli.Error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a:b")]
    [InlineData(" alice")]
    public async Task InvalidUsername_ExitsWith2_AndWritesNothing(string username)
    {
        Assert.Equal(2, await _cli.RunAsync("passwd", "--file", UsersPath, username, "--password", "pw"));
        Assert.False(File.Exists(UsersPath));
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    public async Task EmptyOrNoPasswordOnStdin_ExitsWith2(string input)
    {
        _cli.Input = input;

        Assert.Equal(2, await _cli.RunAsync("passwd", "--file", UsersPath, "alice"));
        Assert.False(File.Exists(UsersPath));
    }

    [Fact]
    public async Task MissingUsername_ExitsWith2()
    {
        Assert.Equal(2, await _cli.RunAsync("passwd", "--file", UsersPath));
    }

    [Fact]
    public async Task DefaultFile_IsUsersInTheDataFolder()
    {
        Assert.Equal(0, await _cli.RunAsync("passwd", "--data", _dir.File("data"), "alice", "--password", "pw"));

        Assert.True(File.Exists(_dir.File("data/users")));
    }

    [Fact]
    public async Task DefaultFile_IsAuthUsersFileFromConfiguration_WhenSet()
    {
        _cli.Environment["CICADA_AUTH__USERSFILE"] = _dir.File("etc/users");

        Assert.Equal(0, await _cli.RunAsync("passwd", "--data", _dir.File("data"), "alice", "--password", "pw"));

        Assert.True(File.Exists(_dir.File("etc/users")));
        Assert.False(File.Exists(_dir.File("data/users")));
    }

    [Fact]
    public async Task ScramCredential_IsWrittenBesideTheHash_AndAnsweredByTheScramMechanism()
    {
        Assert.Equal(0, await _cli.RunAsync("passwd", "--file", UsersPath, "alice", "--password", "s3cret"));

        var line = Assert.Single(await File.ReadAllLinesAsync(UsersPath));
        Assert.Matches(@"^alice:\$pbkdf2-sha512\$\S+ SCRAM-SHA-256\$15000:\S+\$\S+:\S+$", line);
        Assert.Equal(AuthResult.Allowed, Authenticate("alice", "s3cret")); // the password hash still works
        Assert.Equal(AuthStepOutcome.Succeeded, await ScramLoginAsync("alice", "s3cret"));
        Assert.Equal(AuthStepOutcome.Failed, await ScramLoginAsync("alice", "wrong"));
    }

    [Fact]
    public async Task NoScram_WritesOnlyTheHash_SoScramLoginFails()
    {
        Assert.Equal(0, await _cli.RunAsync("passwd", "--file", UsersPath, "alice", "--password", "s3cret", "--no-scram"));

        Assert.DoesNotContain("SCRAM", await File.ReadAllTextAsync(UsersPath), StringComparison.Ordinal);
        Assert.Equal(AuthResult.Allowed, Authenticate("alice", "s3cret"));
        Assert.Equal(AuthStepOutcome.Failed, await ScramLoginAsync("alice", "s3cret"));
    }

    [Fact]
    public async Task ScramIterations_AreWritten_AndBelowRfc7677sMinimumAreRefused()
    {
        Assert.Equal(0, await _cli.RunAsync("passwd", "--file", UsersPath, "alice", "--password", "pw", "--scram-iterations", "5000"));
        Assert.Contains(" SCRAM-SHA-256$5000:", await File.ReadAllTextAsync(UsersPath), StringComparison.Ordinal);

        Assert.Equal(2, await _cli.RunAsync("passwd", "--file", UsersPath, "bob", "--password", "pw", "--scram-iterations", "4095"));
        Assert.DoesNotContain("bob", await File.ReadAllTextAsync(UsersPath), StringComparison.Ordinal);
    }

    /// <summary>A whole SCRAM-SHA-256 exchange (RFC 5802 §3) against the users file, the client side computed here.</summary>
    private async Task<AuthStepOutcome> ScramLoginAsync(string username, string password)
    {
        var mechanism = ScramSha256Mechanism.ForUsersFile(new UsersFile(UsersPath), NullLogger<ScramSha256Mechanism>.Instance);
        var exchange = mechanism.Begin(new AuthExchangeContext("c", "test", null));
        var bare = $"n={username},r=clientnonce";
        var first = await exchange.StepAsync(Encoding.UTF8.GetBytes("n,," + bare), CancellationToken.None);
        Assert.Equal(AuthStepOutcome.Continue, first.Outcome);
        var serverFirst = Encoding.UTF8.GetString(first.ServerData!);
        var fields = serverFirst.Split(',').ToDictionary(f => f[..1], f => f[2..]);
        var withoutProof = $"c=biws,r={fields["r"]}";
        var salted = ScramSha256.SaltedPassword(Encoding.UTF8.GetBytes(password), Convert.FromBase64String(fields["s"]), int.Parse(fields["i"], System.Globalization.CultureInfo.InvariantCulture));
        var proof = ScramSha256.ClientProof(ScramSha256.ClientKey(salted), Encoding.UTF8.GetBytes($"{bare},{serverFirst},{withoutProof}"));
        var final = await exchange.StepAsync(Encoding.UTF8.GetBytes($"{withoutProof},p={Convert.ToBase64String(proof)}"), CancellationToken.None);
        return final.Outcome;
    }

    private AuthResult Authenticate(string username, string password) =>
        new UsersFileAuthenticator(Options.Create(new AuthOptions { UsersFile = UsersPath }), NullLogger<UsersFileAuthenticator>.Instance)
            .Authenticate(new AuthRequest("c", username, Encoding.UTF8.GetBytes(password), "mqtt", null));
}
