namespace Cicada.Core.Auth;

/// <summary>
/// What the TLS layer learned about a client from its (validated) certificate. The host sets it as
/// a connection feature (<c>ConnectionContext.Features</c>) on TLS listeners, so every edge reads
/// the same thing without knowing anything about TLS. When <see cref="Username"/> is set, the
/// certificate is the credential: the edge uses it as the client's username and does not ask the
/// <see cref="IAuthenticator"/> (mosquitto's <c>use_identity_as_username</c>).
/// </summary>
public sealed class ClientCertificateIdentity(string subject, string? commonName, string thumbprint, bool commonNameIsUsername)
{
    /// <summary>The certificate's subject distinguished name, for log lines.</summary>
    public string Subject { get; } = subject;

    /// <summary>The subject's CN (OID 2.5.4.3), or null when it has none.</summary>
    public string? CommonName { get; } = commonName;

    public string Thumbprint { get; } = thumbprint;

    /// <summary>The username this certificate stands for, or null when certificates are not usernames.</summary>
    public string? Username { get; } = commonNameIsUsername ? commonName : null;
}
