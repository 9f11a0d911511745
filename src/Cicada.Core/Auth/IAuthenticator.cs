using System.Net;

namespace Cicada.Core.Auth;

public enum AuthResult
{
    Allowed,

    /// <summary>Unknown user or wrong password (MQTT 3.1.1 CONNACK 0x04, v5 0x86, AMQP 403).</summary>
    BadCredentials,

    /// <summary>Credentials missing where required, or the user may not connect (MQTT 0x05, v5 0x87).</summary>
    NotAuthorized,
}

/// <summary>What an edge knows about a client when it asks to connect.</summary>
public readonly record struct AuthRequest(
    string ClientId,
    string? Username,
    ReadOnlyMemory<byte>? Password,
    string Protocol,
    EndPoint? RemoteEndPoint);

/// <summary>One identity model for every edge (users file, anonymous on/off, later hooks).</summary>
public interface IAuthenticator
{
    ValueTask<AuthResult> AuthenticateAsync(AuthRequest request, CancellationToken cancellationToken);
}
