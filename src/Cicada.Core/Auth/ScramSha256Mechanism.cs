using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Cicada.Core.Auth;

/// <summary>
/// SCRAM-SHA-256 (RFC 7677, RFC 5802), server side, over the users file's SCRAM credentials.
/// The exchange is client-first, server-first, client-final, server-final; the server never sees
/// the password, and its final message proves it knows the user's ServerKey.
/// <list type="bullet">
/// <item>Channel binding is not offered (no <c>-PLUS</c> variant): a client that asks for it
/// (<c>p=</c>) is refused; <c>n</c> and <c>y</c> are accepted (RFC 5802 §6).</item>
/// <item>An unknown user, or one whose line carries no SCRAM credential, gets a server-first
/// message like anyone else's (a salt derived from the name with a per-process key) and fails at the
/// proof, so the exchange does not tell which names exist (RFC 5802 §5.1, "s" attribute).</item>
/// <item>Names and passwords are compared as their UTF-8 bytes: SASLprep (RFC 4013) is not applied,
/// which changes nothing for ASCII.</item>
/// </list>
/// </summary>
public sealed partial class ScramSha256Mechanism : IAuthenticationMechanism
{
    /// <summary>Longest SCRAM message accepted; real ones are ~100-200 bytes.</summary>
    private const int MaxMessageLength = 2048;

    private const int NonceBytes = 18;

    private readonly Func<string, ScramCredential?> _credentials;
    private readonly Func<string> _serverNonce;
    private readonly ILogger _logger;
    private readonly byte[] _decoyKey = RandomNumberGenerator.GetBytes(32);

    /// <param name="credentials">The SCRAM credential of a user; null when it has none (unknown, or no SCRAM line).</param>
    /// <param name="logger">One line per refusal.</param>
    /// <param name="serverNonce">The server's nonce part; only tests replace the random one (RFC 7677's vector).</param>
    public ScramSha256Mechanism(Func<string, ScramCredential?> credentials, ILogger<ScramSha256Mechanism> logger, Func<string>? serverNonce = null)
    {
        _credentials = credentials;
        _logger = logger;
        _serverNonce = serverNonce ?? RandomNonce;
    }

    /// <summary>The mechanism over a users file; a null file knows no users.</summary>
    public static ScramSha256Mechanism ForUsersFile(UsersFile? usersFile, ILogger<ScramSha256Mechanism> logger) =>
        new(username => usersFile is not null && usersFile.TryGetScramCredential(username, out var credential) ? credential : null, logger);

    public string Name => ScramSha256.MechanismName;

    public IAuthenticationExchange Begin(AuthExchangeContext context) => new Exchange(this, context);

    /// <summary>18 random bytes, base64: 24 printable characters without ',' (RFC 5802 §5.1 "r").</summary>
    private static string RandomNonce() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(NonceBytes));

    /// <summary>A credential that matches no proof, with a salt stable per name, for users who have none.</summary>
    private ScramCredential Decoy(string username)
    {
        var salt = HMACSHA256.HashData(_decoyKey, Encoding.UTF8.GetBytes(username))[..ScramSha256.SaltSize];
        return new ScramCredential(ScramSha256.DefaultIterations, salt, RandomNumberGenerator.GetBytes(ScramSha256.KeySize),
            RandomNumberGenerator.GetBytes(ScramSha256.KeySize));
    }

    private sealed class Exchange(ScramSha256Mechanism owner, AuthExchangeContext context) : IAuthenticationExchange
    {
        private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

        private State _state;
        private string _gs2Header = "";
        private string _clientFirstBare = "";
        private string _serverFirst = "";
        private string _nonce = "";
        private string _username = "";
        private ScramCredential? _credential;
        private bool _known;

        private enum State
        {
            Start,
            AwaitingClientFirst,
            AwaitingClientFinal,
            Done,
        }

        public ValueTask<AuthStep> StepAsync(ReadOnlyMemory<byte> clientData, CancellationToken cancellationToken)
        {
            var step = _state switch
            {
                // RFC 4422 §5: a client without an initial response is sent an empty challenge, once.
                State.Start when clientData.IsEmpty => Empty(),
                State.Start or State.AwaitingClientFirst => ClientFirst(clientData.Span),
                State.AwaitingClientFinal => ClientFinal(clientData.Span),
                _ => Refuse(AuthResult.NotAuthorized, "message after the exchange ended"),
            };
            return ValueTask.FromResult(step);
        }

        private AuthStep Empty()
        {
            _state = State.AwaitingClientFirst;
            return AuthStep.Continue([]);
        }

        /// <summary>client-first-message = gs2-header client-first-message-bare (RFC 5802 §7).</summary>
        private AuthStep ClientFirst(ReadOnlySpan<byte> data)
        {
            if (!TryDecode(data, out var message))
                return Refuse(AuthResult.NotAuthorized, "client-first-message is not UTF-8 text");

            // gs2-header = gs2-cbind-flag "," [ authzid ] ","
            var firstComma = message.IndexOf(',', StringComparison.Ordinal);
            var secondComma = firstComma < 0 ? -1 : message.IndexOf(',', firstComma + 1);
            if (secondComma < 0)
                return Refuse(AuthResult.NotAuthorized, "client-first-message has no GS2 header");
            var cbindFlag = message[..firstComma];
            var authzid = message[(firstComma + 1)..secondComma];
            if (cbindFlag.StartsWith("p=", StringComparison.Ordinal))
                return Refuse(AuthResult.NotAuthorized, "channel binding requested, but only SCRAM-SHA-256 without -PLUS is offered");
            if (cbindFlag is not ("n" or "y"))
                return Refuse(AuthResult.NotAuthorized, "invalid GS2 channel-binding flag");

            _gs2Header = message[..(secondComma + 1)];
            _clientFirstBare = message[(secondComma + 1)..];

            // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
            var attributes = _clientFirstBare.Split(',');
            if (attributes[0].StartsWith("m=", StringComparison.Ordinal))
                return Refuse(AuthResult.NotAuthorized, "mandatory extension (m=) not supported"); // RFC 5802 §5.1 "m"
            if (attributes.Length < 2 || !attributes[0].StartsWith("n=", StringComparison.Ordinal)
                || !attributes[1].StartsWith("r=", StringComparison.Ordinal))
                return Refuse(AuthResult.NotAuthorized, "client-first-message-bare is not n=...,r=...");
            if (!TryDecodeSaslName(attributes[0][2..], out var username) || username.Length == 0)
                return Refuse(AuthResult.NotAuthorized, "invalid user name encoding");
            var clientNonce = attributes[1][2..];
            if (clientNonce.Length == 0 || !IsPrintable(clientNonce))
                return Refuse(AuthResult.NotAuthorized, "invalid client nonce");
            if (authzid.Length > 0 && (!authzid.StartsWith("a=", StringComparison.Ordinal)
                || !TryDecodeSaslName(authzid[2..], out var authorizationId) || authorizationId != username))
            {
                // Acting as another identity than the one authenticated is not supported.
                return Refuse(AuthResult.NotAuthorized, "authorization identity differs from the user name");
            }

            _username = username;
            var stored = owner._credentials(username);
            _known = stored is not null;
            _credential = stored ?? owner.Decoy(username);
            _nonce = clientNonce + owner._serverNonce();

            // server-first-message = nonce "," salt "," iteration-count
            _serverFirst = $"r={_nonce},s={Convert.ToBase64String(_credential.Salt)},i={_credential.Iterations}";
            _state = State.AwaitingClientFinal;
            return AuthStep.Continue(Encoding.UTF8.GetBytes(_serverFirst));
        }

        /// <summary>client-final-message = channel-binding "," nonce ["," extensions] "," proof (RFC 5802 §7).</summary>
        private AuthStep ClientFinal(ReadOnlySpan<byte> data)
        {
            if (!TryDecode(data, out var message))
                return Refuse(AuthResult.NotAuthorized, "client-final-message is not UTF-8 text");

            var proofAt = message.LastIndexOf(",p=", StringComparison.Ordinal);
            if (proofAt < 0)
                return Refuse(AuthResult.NotAuthorized, "client-final-message has no proof");
            var withoutProof = message[..proofAt];
            var attributes = withoutProof.Split(',');
            if (attributes.Length < 2 || !attributes[0].StartsWith("c=", StringComparison.Ordinal)
                || !attributes[1].StartsWith("r=", StringComparison.Ordinal))
                return Refuse(AuthResult.NotAuthorized, "client-final-message is not c=...,r=...,p=...");

            // c = base64(gs2-header), as no channel binding data goes with 'n' or 'y' (RFC 5802 §7 "cbind-input").
            if (attributes[0][2..] != Convert.ToBase64String(Encoding.UTF8.GetBytes(_gs2Header)))
                return Refuse(AuthResult.NotAuthorized, "channel-binding attribute does not repeat the GS2 header");

            // The nonce must be the one the server sent, whole (RFC 5802 §5.1 "r").
            if (!string.Equals(attributes[1][2..], _nonce, StringComparison.Ordinal))
                return Refuse(AuthResult.NotAuthorized, "nonce does not match");

            var proof = new byte[ScramSha256.KeySize];
            if (!Convert.TryFromBase64String(message[(proofAt + 3)..], proof, out var written) || written != ScramSha256.KeySize)
                return Refuse(AuthResult.NotAuthorized, "proof is not 32 base64-encoded bytes");

            var authMessage = Encoding.UTF8.GetBytes($"{_clientFirstBare},{_serverFirst},{withoutProof}");
            var credential = _credential!;
            var valid = ScramSha256.VerifyClientProof(credential.StoredKey, authMessage, proof);
            if (!_known)
            {
                _state = State.Done;
                LogNoCredential(owner._logger, context.Protocol, context.ClientId, _username);
                return AuthStep.Fail(AuthResult.BadCredentials);
            }

            if (!valid)
                return Refuse(AuthResult.BadCredentials, $"wrong proof for user {_username}");

            _state = State.Done;
            var serverFinal = "v=" + Convert.ToBase64String(ScramSha256.ServerSignature(credential.ServerKey, authMessage));
            return AuthStep.Succeed(_username, Encoding.UTF8.GetBytes(serverFinal));
        }

        private AuthStep Refuse(AuthResult result, string reason)
        {
            _state = State.Done;
            LogRefused(owner._logger, context.Protocol, context.ClientId, reason);
            return AuthStep.Fail(result);
        }

        private static bool TryDecode(ReadOnlySpan<byte> data, out string text)
        {
            text = "";
            if (data.IsEmpty || data.Length > MaxMessageLength)
                return false;
            try
            {
                text = StrictUtf8.GetString(data);
                return true;
            }
            catch (DecoderFallbackException)
            {
                return false;
            }
        }

        /// <summary>saslname: ',' and '=' travel as "=2C" and "=3D"; any other '=' is invalid (RFC 5802 §5.1 "n").</summary>
        private static bool TryDecodeSaslName(string encoded, out string name)
        {
            name = "";
            if (encoded.Contains(',', StringComparison.Ordinal))
                return false;
            var builder = new StringBuilder(encoded.Length);
            for (var i = 0; i < encoded.Length; i++)
            {
                var c = encoded[i];
                if (c != '=')
                {
                    builder.Append(c);
                    continue;
                }

                if (string.CompareOrdinal(encoded, i, "=2C", 0, 3) == 0)
                    builder.Append(',');
                else if (string.CompareOrdinal(encoded, i, "=3D", 0, 3) == 0)
                    builder.Append('=');
                else
                    return false;
                i += 2;
            }

            name = builder.ToString();
            return true;
        }

        /// <summary>printable = %x21-2B / %x2D-7E: visible ASCII but ',' (RFC 5802 §7).</summary>
        private static bool IsPrintable(string nonce)
        {
            foreach (var c in nonce)
            {
                if (c is < '!' or > '~' or ',')
                    return false;
            }
            return true;
        }
    }

    [LoggerMessage(EventId = 140, Level = LogLevel.Information, Message = "{Protocol} client {ClientId} refused by SCRAM-SHA-256: {Reason}")]
    private static partial void LogRefused(ILogger logger, string protocol, string clientId, string reason);

    [LoggerMessage(EventId = 141, Level = LogLevel.Information,
        Message = "{Protocol} client {ClientId} refused by SCRAM-SHA-256: user {Username} is unknown or has no SCRAM credential (set its password again with cicada passwd)")]
    private static partial void LogNoCredential(ILogger logger, string protocol, string clientId, string username);
}
