using System.Security.Cryptography;
using System.Text;
using Cicada.Core.Auth;

namespace Cicada.Server.Tests;

public sealed class PasswordHasherTests : IDisposable
{
    // Few rounds keep the suite fast; the format and the algorithm are the same at any count.
    private const int FastIterations = 1_000;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Hash_ThenVerify_RoundTrips()
    {
        var hash = PasswordHasher.Hash("correct horse", FastIterations);

        Assert.True(PasswordHasher.Verify(hash, "correct horse"));
    }

    [Fact]
    public void Verify_WrongPassword_Fails()
    {
        var hash = PasswordHasher.Hash("correct horse", FastIterations);

        Assert.False(PasswordHasher.Verify(hash, "correct horsE"));
        Assert.False(PasswordHasher.Verify(hash, ""));
        Assert.False(PasswordHasher.Verify(hash, "correct horse "));
    }

    [Fact]
    public void Hash_DefaultFormat_IsPbkdf2Sha512_WithIterationsSaltAndHash()
    {
        var hash = PasswordHasher.Hash("pw");

        var parts = hash.Split('$');
        Assert.Equal(["", "pbkdf2-sha512", "100000"], parts[..3]);
        Assert.Equal(16, Convert.FromBase64String(parts[3]).Length);
        Assert.Equal(64, Convert.FromBase64String(parts[4]).Length);
        // Independent recomputation: PBKDF2-HMAC-SHA512 with the stored salt and count.
        var expected = Rfc2898DeriveBytes.Pbkdf2("pw"u8, Convert.FromBase64String(parts[3]), 100_000, HashAlgorithmName.SHA512, 64);
        Assert.Equal(expected, Convert.FromBase64String(parts[4]));
    }

    [Fact]
    public void Hash_SamePasswordTwice_UsesDifferentSalts()
    {
        Assert.NotEqual(PasswordHasher.Hash("pw", FastIterations), PasswordHasher.Hash("pw", FastIterations));
    }

    [Fact]
    public void Verify_UsesTheIterationCountStoredInTheHash()
    {
        var hash = PasswordHasher.Hash("pw", 1234);

        Assert.True(PasswordHasher.TryParse(hash, out var parsed));
        Assert.Equal(1234, parsed.Iterations);
        Assert.True(PasswordHasher.Verify(hash, "pw"));
        Assert.False(PasswordHasher.Verify(hash.Replace("$1234$", "$1235$", StringComparison.Ordinal), "pw"));
    }

    [Theory]
    [InlineData(4)] // salt
    [InlineData(5)] // hash
    public void Verify_TamperedSaltOrHash_Fails(int part)
    {
        var parts = PasswordHasher.Hash("pw", FastIterations).Split('$');
        var bytes = Convert.FromBase64String(parts[part - 1]);
        bytes[0] ^= 1;
        parts[part - 1] = Convert.ToBase64String(bytes);

        Assert.False(PasswordHasher.Verify(string.Join('$', parts), "pw"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("pw")]
    [InlineData("$pbkdf2-sha512$")]
    [InlineData("$pbkdf2-sha512$1000$c2FsdA==")]
    [InlineData("$pbkdf2-sha512$0$c2FsdHNhbHRzYWx0c2FsdA==$AAAA")]
    [InlineData("$pbkdf2-sha512$abc$c2FsdA==$AAAA")]
    [InlineData("$pbkdf2-sha512$99999999999$c2FsdA==$AAAA")]
    [InlineData("$pbkdf2-sha512$1000$not base64!$AAAA")]
    [InlineData("$pbkdf2-sha256$1000$c2FsdA==$AAAA")]
    [InlineData("$2b$10$abcdefghijklmnopqrstuv")]
    public void Verify_MalformedHash_IsAMismatch_NotAnException(string stored)
    {
        Assert.False(PasswordHasher.Verify(stored, "pw"));
    }

    [Fact]
    public void Verify_TruncatedHash_Fails()
    {
        var hash = PasswordHasher.Hash("pw", FastIterations);
        var parts = hash.Split('$');
        parts[4] = Convert.ToBase64String(Convert.FromBase64String(parts[4])[..32]);

        Assert.False(PasswordHasher.Verify(string.Join('$', parts), "pw"));
    }

    [Fact]
    public void Verify_BinaryPassword_IsHashedAsBytes()
    {
        // MQTT-3.1.3.5: the password is binary data, not necessarily UTF-8.
        byte[] password = [0xff, 0x00, 0xfe];
        var hash = PasswordHasher.Hash(password, FastIterations);

        Assert.True(PasswordHasher.Verify(hash, password));
        Assert.False(PasswordHasher.Verify(hash, [0xff, 0x00]));
    }

    [Fact]
    public void Verify_MosquittoPasswdDefaultHash_IsPbkdf2Format7()
    {
        var stored = MosquittoHash("alice", "s3cret pass", null);

        Assert.StartsWith("$7$", stored, StringComparison.Ordinal);
        Assert.True(PasswordHasher.Verify(stored, "s3cret pass"));
        Assert.False(PasswordHasher.Verify(stored, "s3cret pas"));
    }

    [Fact]
    public void Verify_MosquittoPasswdSha512Hash_IsFormat6()
    {
        var stored = MosquittoHash("bob", "hunter2", "sha512");

        Assert.StartsWith("$6$", stored, StringComparison.Ordinal);
        Assert.True(PasswordHasher.Verify(stored, "hunter2"));
        Assert.False(PasswordHasher.Verify(stored, "hunter3"));
    }

    [Fact]
    public void Verify_MosquittoHash_WithNonAsciiPassword_MatchesUtf8Bytes()
    {
        var stored = MosquittoHash("carol", "pässwörd", null);

        Assert.True(PasswordHasher.Verify(stored, Encoding.UTF8.GetBytes("pässwörd")));
        Assert.False(PasswordHasher.Verify(stored, Encoding.Latin1.GetBytes("pässwörd")));
    }

    /// <summary>Runs the real <c>mosquitto_passwd -b</c> (Debian package mosquitto; scripts/install-deps installs it).</summary>
    private string MosquittoHash(string user, string password, string? algorithm)
    {
        var file = _dir.File($"mosquitto-{user}");
        string[] args = algorithm is null ? ["-c", "-b", file, user, password] : ["-H", algorithm, "-c", "-b", file, user, password];
        var (exitCode, output, error) = Tools.Run("mosquitto_passwd", args);
        Assert.True(exitCode == 0, $"mosquitto_passwd failed ({exitCode}): {output}{error}");
        var line = File.ReadAllLines(file).Single();
        Assert.StartsWith(user + ":", line, StringComparison.Ordinal);
        return line[(user.Length + 1)..];
    }
}
