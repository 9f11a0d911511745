using System.Text;
using Cicada.Core;
using Cicada.Core.Auth;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cicada.Server.Tests;

public sealed class UsersFileAuthenticatorTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string UsersPath => _dir.File("users");

    [Fact]
    public void Anonymous_IsAllowed_WhenAllowAnonymous()
    {
        Assert.Equal(AuthResult.Allowed, Authenticator(allowAnonymous: true).Authenticate(Request(null, null)));
    }

    [Fact]
    public void Anonymous_IsNotAuthorized_WhenAnonymousIsOff()
    {
        // MQTT 3.1.1 CONNACK 0x05 "not authorized" rather than 0x04 "bad user name or password".
        Assert.Equal(AuthResult.NotAuthorized, Authenticator(allowAnonymous: false).Authenticate(Request(null, null)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PasswordWithoutUsername_IsBadCredentials(bool allowAnonymous)
    {
        // MQTT-3.1.2-22: no password without a user name; under MQTT 5 there is no user to check it against.
        Assert.Equal(AuthResult.BadCredentials, Authenticator(allowAnonymous).Authenticate(Request(null, "pw")));
    }

    [Fact]
    public void EmptyPasswordWithoutUsername_IsTreatedAsAnonymous()
    {
        // A null byte[] converts to a non-null, empty ReadOnlyMemory<byte>?; an edge that slips
        // into that must not turn an anonymous client into one with bad credentials.
        byte[]? none = null;
        var request = new AuthRequest("client-1", null, none, "mqtt", null);

        Assert.Equal(AuthResult.Allowed, Authenticator(allowAnonymous: true).Authenticate(request));
        Assert.Equal(AuthResult.NotAuthorized, Authenticator(allowAnonymous: false).Authenticate(request));
    }

    [Fact]
    public void Username_WithNoUsersFileConfigured_IsBadCredentials()
    {
        var auth = new UsersFileAuthenticator(Options.Create(new AuthOptions { AllowAnonymous = true }), NullLogger<UsersFileAuthenticator>.Instance);

        Assert.Equal(AuthResult.BadCredentials, auth.Authenticate(Request("alice", "pw")));
    }

    [Fact]
    public void Username_WhenTheUsersFileDoesNotExist_IsBadCredentials()
    {
        Assert.Equal(AuthResult.BadCredentials, Authenticator().Authenticate(Request("alice", "pw")));
    }

    [Fact]
    public void KnownUser_RightPassword_IsAllowed_WrongPassword_IsBadCredentials()
    {
        AddUser("alice", "pw");
        var auth = Authenticator();

        Assert.Equal(AuthResult.Allowed, auth.Authenticate(Request("alice", "pw")));
        Assert.Equal(AuthResult.BadCredentials, auth.Authenticate(Request("alice", "PW")));
    }

    [Fact]
    public void UnknownUser_IsBadCredentials_EvenWithAnonymousAllowed()
    {
        AddUser("alice", "pw");

        Assert.Equal(AuthResult.BadCredentials, Authenticator(allowAnonymous: true).Authenticate(Request("mallory", "pw")));
    }

    [Fact]
    public void KnownUser_WithoutPassword_IsBadCredentials()
    {
        // MQTT 3.1.2.9: the password field is optional, but every user in the file has one to check.
        AddUser("alice", "pw");

        Assert.Equal(AuthResult.BadCredentials, Authenticator().Authenticate(Request("alice", null)));
    }

    [Fact]
    public void RepeatedSuccessfulLogins_RunTheHashOnce()
    {
        AddUser("alice", "pw");
        var auth = Authenticator();

        for (var i = 0; i < 5; i++)
            Assert.Equal(AuthResult.Allowed, auth.Authenticate(Request("alice", "pw")));

        Assert.Equal(1, auth.HashVerifications);
    }

    [Fact]
    public void WrongPassword_AfterACachedSuccess_IsStillRefused()
    {
        AddUser("alice", "pw");
        var auth = Authenticator();
        auth.Authenticate(Request("alice", "pw"));

        Assert.Equal(AuthResult.BadCredentials, auth.Authenticate(Request("alice", "pw2")));
    }

    [Fact]
    public void ChangedPassword_InvalidatesTheCachedOne()
    {
        AddUser("alice", "old");
        var auth = Authenticator();
        Assert.Equal(AuthResult.Allowed, auth.Authenticate(Request("alice", "old")));

        AddUser("alice", "new");
        File.SetLastWriteTimeUtc(UsersPath, DateTime.UtcNow.AddSeconds(5));

        Assert.Equal(AuthResult.BadCredentials, auth.Authenticate(Request("alice", "old")));
        Assert.Equal(AuthResult.Allowed, auth.Authenticate(Request("alice", "new")));
    }

    [Fact]
    public void DeletedUser_IsRefused_AfterACachedSuccess()
    {
        AddUser("alice", "pw");
        AddUser("bob", "pw");
        var auth = Authenticator();
        Assert.Equal(AuthResult.Allowed, auth.Authenticate(Request("alice", "pw")));

        UsersFile.RemoveUser(UsersPath, "alice");
        File.SetLastWriteTimeUtc(UsersPath, DateTime.UtcNow.AddSeconds(5));

        Assert.Equal(AuthResult.BadCredentials, auth.Authenticate(Request("alice", "pw")));
        Assert.Equal(AuthResult.Allowed, auth.Authenticate(Request("bob", "pw")));
    }

    [Fact]
    public void MosquittoPasswordFile_CanBeUsedAsItIs()
    {
        var (exitCode, output, error) = Tools.Run("mosquitto_passwd", "-c", "-b", UsersPath, "sensor1", "t0ps3cret");
        Assert.True(exitCode == 0, output + error);
        var auth = Authenticator();

        Assert.Equal(AuthResult.Allowed, auth.Authenticate(Request("sensor1", "t0ps3cret")));
        Assert.Equal(AuthResult.BadCredentials, auth.Authenticate(Request("sensor1", "t0ps3cre")));
    }

    [Fact]
    public async Task AuthenticateAsync_GivesTheSameAnswer()
    {
        AddUser("alice", "pw");
        var auth = Authenticator(allowAnonymous: false);

        Assert.Equal(AuthResult.Allowed, await auth.AuthenticateAsync(Request("alice", "pw"), CancellationToken.None));
        Assert.Equal(AuthResult.NotAuthorized, await auth.AuthenticateAsync(Request(null, null), CancellationToken.None));
    }

    private UsersFileAuthenticator Authenticator(bool allowAnonymous = true) =>
        new(Options.Create(new AuthOptions { AllowAnonymous = allowAnonymous, UsersFile = UsersPath }), NullLogger<UsersFileAuthenticator>.Instance);

    private void AddUser(string username, string password) =>
        UsersFile.SetUser(UsersPath, username, PasswordHasher.Hash(password, 1000));

    private static AuthRequest Request(string? username, string? password) =>
        new("client-1", username, password is null ? (ReadOnlyMemory<byte>?)null : Encoding.UTF8.GetBytes(password), "mqtt", null);
}
