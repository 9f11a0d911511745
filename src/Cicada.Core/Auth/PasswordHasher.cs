using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Cicada.Core.Auth;

/// <summary>
/// Password hashes as stored in the users file. Cicada writes
/// <c>$pbkdf2-sha512$&lt;iterations&gt;$&lt;salt base64&gt;$&lt;hash base64&gt;</c> and also verifies the two
/// formats <c>mosquitto_passwd</c> writes, so a mosquitto password file can be used as it is:
/// <c>$7$&lt;iterations&gt;$&lt;salt&gt;$&lt;hash&gt;</c> (PBKDF2-HMAC-SHA512, 64-byte key; mosquitto 2.x default)
/// and <c>$6$&lt;salt&gt;$&lt;hash&gt;</c> (one round of SHA-512 over password then salt; mosquitto ≤ 1.6).
/// </summary>
public static class PasswordHasher
{
    public const string Pbkdf2Sha512Prefix = "$pbkdf2-sha512$";
    public const int DefaultIterations = 100_000;

    /// <summary>A stored hash naming more rounds than this is refused: it would let a bad file stall every CONNECT.</summary>
    public const int MaxIterations = 10_000_000;

    private const int SaltSize = 16;
    private const int HashSize = 64;

    /// <summary>Hashes <paramref name="password"/> (its UTF-8 bytes) with a fresh random salt.</summary>
    public static string Hash(string password, int iterations = DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        return Hash(Encoding.UTF8.GetBytes(password), iterations);
    }

    /// <summary>Hashes raw password bytes (MQTT passwords are binary data, MQTT-3.1.3.5).</summary>
    public static string Hash(ReadOnlySpan<byte> password, int iterations = DefaultIterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(iterations, MaxIterations);
        Span<byte> salt = stackalloc byte[SaltSize];
        RandomNumberGenerator.Fill(salt);
        Span<byte> hash = stackalloc byte[HashSize];
        Rfc2898DeriveBytes.Pbkdf2(password, salt, hash, iterations, HashAlgorithmName.SHA512);
        return string.Create(CultureInfo.InvariantCulture,
            $"{Pbkdf2Sha512Prefix}{iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    public static bool Verify(string encodedHash, string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        return Verify(encodedHash, Encoding.UTF8.GetBytes(password));
    }

    /// <summary>
    /// True when <paramref name="password"/> matches <paramref name="encodedHash"/>. A malformed or
    /// unknown hash is a mismatch, never an exception: the users file is edited by people.
    /// </summary>
    public static bool Verify(string encodedHash, ReadOnlySpan<byte> password)
    {
        if (!TryParse(encodedHash, out var parsed))
            return false;

        var actual = new byte[parsed.Hash.Length];
        switch (parsed.Kind)
        {
            case HashKind.Pbkdf2Sha512:
                Rfc2898DeriveBytes.Pbkdf2(password, parsed.Salt, actual, parsed.Iterations, HashAlgorithmName.SHA512);
                break;
            case HashKind.MosquittoSha512:
                // mosquitto_passwd -H sha512: SHA-512(password || salt), no iterations.
                using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA512))
                {
                    sha.AppendData(password);
                    sha.AppendData(parsed.Salt);
                    if (!sha.TryGetHashAndReset(actual, out _))
                        return false;
                }
                break;
            default:
                return false;
        }
        // Constant time, so a timing probe learns nothing about how much of the hash matched.
        return CryptographicOperations.FixedTimeEquals(actual, parsed.Hash);
    }

    /// <summary>Splits a stored hash into its parts; false for anything not in a known format.</summary>
    public static bool TryParse(string? encodedHash, out ParsedHash parsed)
    {
        parsed = default;
        if (string.IsNullOrEmpty(encodedHash))
            return false;

        HashKind kind;
        string rest;
        if (encodedHash.StartsWith(Pbkdf2Sha512Prefix, StringComparison.Ordinal))
        {
            kind = HashKind.Pbkdf2Sha512;
            rest = encodedHash[Pbkdf2Sha512Prefix.Length..];
        }
        else if (encodedHash.StartsWith("$7$", StringComparison.Ordinal))
        {
            kind = HashKind.Pbkdf2Sha512;
            rest = encodedHash[3..];
        }
        else if (encodedHash.StartsWith("$6$", StringComparison.Ordinal))
        {
            kind = HashKind.MosquittoSha512;
            rest = encodedHash[3..];
        }
        else
        {
            return false;
        }

        var parts = rest.Split('$');
        var iterations = 1;
        if (kind == HashKind.Pbkdf2Sha512)
        {
            if (parts.Length != 3
                || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out iterations)
                || iterations < 1 || iterations > MaxIterations)
                return false;
            parts = parts[1..];
        }
        else if (parts.Length != 2)
        {
            return false;
        }

        var salt = FromBase64(parts[0]);
        var hash = FromBase64(parts[1]);
        // Both formats store a full 64-byte SHA-512-sized digest; a shorter one was cut or edited.
        if (salt is null || salt.Length == 0 || hash is null || hash.Length != HashSize)
            return false;

        parsed = new ParsedHash(kind, iterations, salt, hash);
        return true;
    }

    private static byte[]? FromBase64(string text)
    {
        var buffer = new byte[(text.Length * 3 / 4) + 3];
        return Convert.TryFromBase64String(text, buffer, out var written) ? buffer[..written] : null;
    }
}

public enum HashKind
{
    /// <summary>PBKDF2-HMAC-SHA512 (<c>$pbkdf2-sha512$</c> and mosquitto's <c>$7$</c>).</summary>
    Pbkdf2Sha512,

    /// <summary>One round of SHA-512 over password then salt (mosquitto's <c>$6$</c>).</summary>
    MosquittoSha512,
}

public readonly record struct ParsedHash(HashKind Kind, int Iterations, byte[] Salt, byte[] Hash);
