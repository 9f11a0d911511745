using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Cicada.Core.Auth;

/// <summary>
/// The SCRAM-SHA-256 key derivations (RFC 5802 §3 with H = SHA-256 and HMAC-SHA-256, RFC 7677).
/// The server keeps only StoredKey and ServerKey: enough to check a client's proof and to prove
/// itself, never enough to log in as the user (RFC 5802 §9).
/// </summary>
public static class ScramSha256
{
    public const string MechanismName = "SCRAM-SHA-256";

    /// <summary>RFC 7677 §4: the iteration count SHOULD be at least 4096.</summary>
    public const int MinIterations = 4096;

    /// <summary>
    /// The default for new credentials. A stolen users file can be attacked offline through its
    /// SCRAM credential as through its password hash, so the count is well above RFC 7677's floor;
    /// every client pays it once per login (a constrained one can cache the SaltedPassword).
    /// </summary>
    public const int DefaultIterations = 15_000;

    /// <summary>A stored count above this is refused: it would make every client stall on login.</summary>
    public const int MaxIterations = PasswordHasher.MaxIterations;

    public const int KeySize = 32;
    public const int SaltSize = 16;

    /// <summary>SaltedPassword := Hi(password, salt, i), which is PBKDF2-HMAC-SHA-256 (RFC 5802 §2.2).</summary>
    public static byte[] SaltedPassword(ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA256, KeySize);

    /// <summary>ClientKey := HMAC(SaltedPassword, "Client Key").</summary>
    public static byte[] ClientKey(ReadOnlySpan<byte> saltedPassword) => HMACSHA256.HashData(saltedPassword, "Client Key"u8);

    /// <summary>ServerKey := HMAC(SaltedPassword, "Server Key").</summary>
    public static byte[] ServerKey(ReadOnlySpan<byte> saltedPassword) => HMACSHA256.HashData(saltedPassword, "Server Key"u8);

    /// <summary>StoredKey := H(ClientKey).</summary>
    public static byte[] StoredKey(ReadOnlySpan<byte> clientKey) => SHA256.HashData(clientKey);

    /// <summary>ClientSignature := HMAC(StoredKey, AuthMessage).</summary>
    public static byte[] ClientSignature(ReadOnlySpan<byte> storedKey, ReadOnlySpan<byte> authMessage) =>
        HMACSHA256.HashData(storedKey, authMessage);

    /// <summary>ServerSignature := HMAC(ServerKey, AuthMessage).</summary>
    public static byte[] ServerSignature(ReadOnlySpan<byte> serverKey, ReadOnlySpan<byte> authMessage) =>
        HMACSHA256.HashData(serverKey, authMessage);

    /// <summary>ClientProof := ClientKey XOR ClientSignature (what a client sends).</summary>
    public static byte[] ClientProof(ReadOnlySpan<byte> clientKey, ReadOnlySpan<byte> authMessage)
    {
        var signature = ClientSignature(StoredKey(clientKey), authMessage);
        for (var i = 0; i < signature.Length; i++)
            signature[i] ^= clientKey[i];
        return signature;
    }

    /// <summary>
    /// The server's check (RFC 5802 §3): ClientKey := ClientProof XOR ClientSignature, then
    /// H(ClientKey) must equal StoredKey — compared in constant time, so the time taken says
    /// nothing about how close a forged proof came.
    /// </summary>
    public static bool VerifyClientProof(ReadOnlySpan<byte> storedKey, ReadOnlySpan<byte> authMessage, ReadOnlySpan<byte> clientProof)
    {
        if (clientProof.Length != KeySize || storedKey.Length != KeySize)
            return false;
        Span<byte> clientKey = stackalloc byte[KeySize];
        HMACSHA256.HashData(storedKey, authMessage, clientKey);
        for (var i = 0; i < KeySize; i++)
            clientKey[i] ^= clientProof[i];
        Span<byte> candidate = stackalloc byte[KeySize];
        SHA256.HashData(clientKey, candidate);
        return CryptographicOperations.FixedTimeEquals(candidate, storedKey);
    }

    /// <summary>The credential the server stores for <paramref name="password"/> (its UTF-8 bytes), with a fresh random salt.</summary>
    public static ScramCredential CreateCredential(string password, int iterations = DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        var salt = RandomNumberGenerator.GetBytes(SaltSize);
        return CreateCredential(Encoding.UTF8.GetBytes(password), salt, iterations);
    }

    public static ScramCredential CreateCredential(ReadOnlySpan<byte> password, byte[] salt, int iterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(iterations, MaxIterations);
        var salted = SaltedPassword(password, salt, iterations);
        try
        {
            return new ScramCredential(iterations, salt, StoredKey(ClientKey(salted)), ServerKey(salted));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(salted);
        }
    }
}

/// <summary>
/// What the server stores for one SCRAM-SHA-256 user. Written in the users file in RFC 5803's
/// form, <c>SCRAM-SHA-256$&lt;iterations&gt;:&lt;salt&gt;$&lt;StoredKey&gt;:&lt;ServerKey&gt;</c> (base64).
/// </summary>
public sealed record ScramCredential(int Iterations, byte[] Salt, byte[] StoredKey, byte[] ServerKey)
{
    public const string Prefix = ScramSha256.MechanismName + "$";

    /// <summary>RFC 5803 §3 text form.</summary>
    public string Encode() => string.Create(CultureInfo.InvariantCulture,
        $"{Prefix}{Iterations}:{Convert.ToBase64String(Salt)}${Convert.ToBase64String(StoredKey)}:{Convert.ToBase64String(ServerKey)}");

    /// <summary>Parses the RFC 5803 form; false for anything else (the users file is edited by people).</summary>
    public static bool TryParse(string? text, out ScramCredential credential)
    {
        credential = null!;
        if (text is null || !text.StartsWith(Prefix, StringComparison.Ordinal))
            return false;
        var parts = text[Prefix.Length..].Split('$');
        if (parts.Length != 2)
            return false;
        var first = parts[0].Split(':');
        var second = parts[1].Split(':');
        if (first.Length != 2 || second.Length != 2
            || !int.TryParse(first[0], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations)
            || iterations < 1 || iterations > ScramSha256.MaxIterations)
            return false;
        var salt = FromBase64(first[1]);
        var storedKey = FromBase64(second[0]);
        var serverKey = FromBase64(second[1]);
        if (salt is not { Length: > 0 } || storedKey?.Length != ScramSha256.KeySize || serverKey?.Length != ScramSha256.KeySize)
            return false;
        credential = new ScramCredential(iterations, salt, storedKey, serverKey);
        return true;
    }

    private static byte[]? FromBase64(string text)
    {
        var buffer = new byte[(text.Length * 3 / 4) + 3];
        return Convert.TryFromBase64String(text, buffer, out var written) ? buffer[..written] : null;
    }
}
