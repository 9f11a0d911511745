using System.Security.Cryptography;
using System.Text;

namespace Cicada.Interop.Tests.Infrastructure;

/// <summary>
/// The client side of SCRAM-SHA-256 (RFC 5802 §3, RFC 7677), written here from the RFC with .NET's
/// primitives so the broker's side is checked against an implementation it does not share.
/// </summary>
public sealed class ScramClient(string username, string password)
{
    public const string Method = "SCRAM-SHA-256";

    private readonly string _clientNonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
    private byte[]? _expectedServerSignature;

    /// <summary>Sends a proof computed with this password instead (to test refusals).</summary>
    public string? ProofPassword { get; init; }

    private string ClientFirstBare => $"n={username.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal)},r={_clientNonce}";

    /// <summary>client-first-message: GS2 header "n,," (no channel binding), then the bare message.</summary>
    public byte[] ClientFirst() => Encoding.UTF8.GetBytes("n,," + ClientFirstBare);

    /// <summary>client-final-message for the server-first-message <paramref name="serverFirstData"/>.</summary>
    public byte[] ClientFinal(byte[] serverFirstData)
    {
        var serverFirst = Encoding.UTF8.GetString(serverFirstData);
        var attributes = serverFirst.Split(',').ToDictionary(a => a[..1], a => a[2..]);
        var nonce = attributes["r"];
        Assert.StartsWith(_clientNonce, nonce, StringComparison.Ordinal); // RFC 5802 §5.1 "r"
        Assert.True(nonce.Length > _clientNonce.Length, "The server added no nonce of its own.");
        var salt = Convert.FromBase64String(attributes["s"]);
        var iterations = int.Parse(attributes["i"], System.Globalization.CultureInfo.InvariantCulture);

        var withoutProof = $"c={Convert.ToBase64String("n,,"u8)},r={nonce}";
        var authMessage = Encoding.UTF8.GetBytes($"{ClientFirstBare},{serverFirst},{withoutProof}");
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(ProofPassword ?? password), salt, iterations, HashAlgorithmName.SHA256, 32);
        var clientKey = HMACSHA256.HashData(salted, "Client Key"u8);
        var signature = HMACSHA256.HashData(SHA256.HashData(clientKey), authMessage);
        var proof = clientKey.Zip(signature, (k, s) => (byte)(k ^ s)).ToArray();
        _expectedServerSignature = HMACSHA256.HashData(HMACSHA256.HashData(salted, "Server Key"u8), authMessage);
        return Encoding.UTF8.GetBytes($"{withoutProof},p={Convert.ToBase64String(proof)}");
    }

    /// <summary>True when the server-final-message proves the server holds this user's ServerKey (mutual authentication).</summary>
    public bool VerifyServerFinal(byte[]? serverFinalData) =>
        _expectedServerSignature is not null && serverFinalData is not null
        && Encoding.UTF8.GetString(serverFinalData) == "v=" + Convert.ToBase64String(_expectedServerSignature);
}
