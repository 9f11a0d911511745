using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Cicada.Core.Auth;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Cicada.Server.Hosting;

/// <summary>Whether a TLS listener asks clients for a certificate (configuration <c>Tls:ClientCertificateMode</c>).</summary>
public enum TlsClientCertificateMode
{
    /// <summary>No client certificate is requested.</summary>
    None,

    /// <summary>Requested; a client without one may still connect (and authenticate with a password).</summary>
    Allow,

    /// <summary>Mutual TLS: the handshake fails without a valid client certificate.</summary>
    Require,
}

/// <summary>
/// The TLS settings every TLS listener shares (MQTT 8883 now; AMQPS 5671 and HTTPS/WSS 8443 call
/// <see cref="Configure"/> and <see cref="UseClientIdentity"/> the same way), read from the
/// <c>Tls</c> section: a PEM certificate and key, TLS 1.2/1.3 only, optional client certificates
/// checked against a CA file, and the client certificate's CN as username. The server certificate
/// and the CA file are re-read when they change, so a renewed certificate needs no restart.
/// </summary>
public sealed partial class TlsSettings
{
    public const string Section = "Tls";
    public const string CertificateFileKey = "Tls:CertificateFile";
    public const string KeyFileKey = "Tls:KeyFile";
    public const string ClientCertificateModeKey = "Tls:ClientCertificateMode";
    public const string CaFileKey = "Tls:CaFile";
    public const string UseCertificateCnAsUsernameKey = "Tls:UseCertificateCnAsUsername";

    /// <summary>TLS 1.0/1.1 are deprecated (RFC 8996); nothing older is offered.</summary>
    public const SslProtocols Protocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    // OID 1.3.6.1.5.5.7.3.2: id-kp-clientAuth (RFC 5280 §4.2.1.12).
    private const string ClientAuthenticationOid = "1.3.6.1.5.5.7.3.2";

    // OID 2.5.4.3: id-at-commonName (RFC 5280 Appendix A).
    private const string CommonNameOid = "2.5.4.3";

    private ReloadingFiles<X509Certificate2>? _serverCertificate;
    private ReloadingFiles<X509Certificate2Collection>? _trustedCas;
    private bool _logging;

    public required string CertificateFile { get; init; }

    /// <summary>The private key; null when it is in <see cref="CertificateFile"/> itself.</summary>
    public string? KeyFile { get; init; }

    public TlsClientCertificateMode ClientCertificateMode { get; init; }

    /// <summary>CA certificates (PEM) client certificates must chain to; null = the system's trust store.</summary>
    public string? CaFile { get; init; }

    public bool UseCertificateCnAsUsername { get; init; }

    /// <summary>The server certificate, re-read when its files change (checked at most once a second).</summary>
    public X509Certificate2 ServerCertificate => ServerCertificateFiles.Current;

    private ReloadingFiles<X509Certificate2> ServerCertificateFiles =>
        _serverCertificate ??= new ReloadingFiles<X509Certificate2>(
            KeyFile is null ? [CertificateFile] : [CertificateFile, KeyFile], () => LoadServerCertificate(CertificateFile, KeyFile));

    private ReloadingFiles<X509Certificate2Collection>? TrustedCas =>
        CaFile is null ? null : _trustedCas ??= new ReloadingFiles<X509Certificate2Collection>([CaFile], () => LoadCaFile(CaFile));

    /// <summary>
    /// The settings in <paramref name="configuration"/>, or null when no certificate is configured
    /// (TLS off). Every file is loaded once here so a bad path or PEM stops the broker at start-up
    /// with the key named, instead of failing the first handshake.
    /// </summary>
    public static TlsSettings? TryCreate(IConfiguration configuration, List<string> problems)
    {
        var certificateFile = configuration[CertificateFileKey];
        var keyFile = NullIfBlank(configuration[KeyFileKey]);
        var caFile = NullIfBlank(configuration[CaFileKey]);
        var modeText = configuration[ClientCertificateModeKey];
        var cnText = configuration[UseCertificateCnAsUsernameKey];

        if (string.IsNullOrWhiteSpace(certificateFile))
        {
            if (keyFile is not null)
                problems.Add($"{KeyFileKey}: set, but {CertificateFileKey} is not");
            return null;
        }

        var mode = TlsClientCertificateMode.None;
        if (!string.IsNullOrWhiteSpace(modeText) && !TryParseMode(modeText, out mode))
            problems.Add($"{ClientCertificateModeKey}: '{modeText}' is not none, allow or require");

        var cnIsUsername = false;
        if (!string.IsNullOrWhiteSpace(cnText) && !bool.TryParse(cnText, out cnIsUsername))
            problems.Add($"{UseCertificateCnAsUsernameKey}: '{cnText}' is not true or false");
        if (cnIsUsername && mode == TlsClientCertificateMode.None)
            problems.Add($"{UseCertificateCnAsUsernameKey}: needs {ClientCertificateModeKey} allow or require (no certificate is asked for)");

        var settings = new TlsSettings
        {
            CertificateFile = Path.GetFullPath(certificateFile),
            KeyFile = keyFile is null ? null : Path.GetFullPath(keyFile),
            CaFile = caFile is null ? null : Path.GetFullPath(caFile),
            ClientCertificateMode = mode,
            UseCertificateCnAsUsername = cnIsUsername,
        };

        try
        {
            using var certificate = LoadServerCertificate(settings.CertificateFile, settings.KeyFile);
        }
        catch (Exception ex) when (ex is IOException or CryptographicException or UnauthorizedAccessException or ArgumentException)
        {
            problems.Add($"{CertificateFileKey}/{KeyFileKey}: cannot load the certificate and key: {ex.Message}");
        }

        if (settings.CaFile is { } ca)
        {
            try
            {
                LoadCaFile(ca);
            }
            catch (Exception ex) when (ex is IOException or CryptographicException or UnauthorizedAccessException or ArgumentException)
            {
                problems.Add($"{CaFileKey}: cannot load '{ca}': {ex.Message}");
            }
        }

        return settings;
    }

    /// <summary>
    /// Makes <paramref name="options"/> use these settings. <paramref name="offerAlpn"/> is false
    /// for non-HTTP protocols: an HTTP ALPN list (h2, http/1.1) means nothing to an MQTT client.
    /// </summary>
    public void Configure(HttpsConnectionAdapterOptions options, ILogger logger, bool offerAlpn)
    {
        options.SslProtocols = Protocols;
        options.ServerCertificateSelector = (_, _) => ServerCertificateFiles.Current;
        options.ClientCertificateMode = ClientCertificateMode switch
        {
            TlsClientCertificateMode.Allow => Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.AllowCertificate,
            TlsClientCertificateMode.Require => Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.RequireCertificate,
            _ => Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.NoCertificate,
        };
        options.CheckCertificateRevocation = false;
        options.HandshakeTimeout = TimeSpan.FromSeconds(10);
        if (ClientCertificateMode != TlsClientCertificateMode.None)
            options.ClientCertificateValidation = (certificate, _, errors) => ValidateClientCertificate(certificate, errors, logger);
        if (!offerAlpn)
            options.OnAuthenticate = (_, ssl) => ssl.ApplicationProtocols = null;

        // Several listeners share one certificate: hook the log lines once, then load it now so
        // the first line appears at start-up rather than at the first handshake.
        if (!_logging)
        {
            _logging = true;
            string? served = null;
            ServerCertificateFiles.Reloaded += certificate =>
            {
                LogCertificateLoaded(logger, CertificateFile, served is null ? "start" : "file changed", certificate.Subject, certificate.Thumbprint,
                    certificate.NotAfter, Change(served, certificate));
                served = certificate.Thumbprint;
            };
            ServerCertificateFiles.ReloadFailed += error => LogCertificateReloadFailed(logger, CertificateFile, "file changed", error);
            _ = ServerCertificateFiles.Current;
            if (TrustedCas is { } cas)
            {
                var caLoaded = false;
                cas.Reloaded += collection =>
                {
                    LogCaLoaded(logger, CaFile!, caLoaded ? "file changed" : "start", collection.Count);
                    caLoaded = true;
                };
                cas.ReloadFailed += error => LogCaReloadFailed(logger, CaFile!, "file changed", error);
                _ = cas.Current;
            }
        }
    }

    /// <summary>
    /// Re-reads the server certificate, its key and the CA file now, changed or not (SIGHUP), with
    /// one log line each saying what changed or why it failed (the previous ones then stay in use).
    /// Connections already open keep the session they negotiated.
    /// </summary>
    public void Reload(string trigger, ILogger logger)
    {
        if (ServerCertificateFiles.Reload(out var previous, out var current, out var error))
            LogCertificateLoaded(logger, CertificateFile, trigger, current!.Subject, current.Thumbprint, current.NotAfter, Change(previous?.Thumbprint, current));
        else
            LogCertificateReloadFailed(logger, CertificateFile, trigger, error!);

        if (TrustedCas is { } cas)
        {
            if (cas.Reload(out _, out var collection, out error))
                LogCaLoaded(logger, CaFile!, trigger, collection!.Count);
            else
                LogCaReloadFailed(logger, CaFile!, trigger, error!);
        }
    }

    private static string Change(string? previousThumbprint, X509Certificate2 current) =>
        previousThumbprint is null ? "first load"
        : previousThumbprint == current.Thumbprint ? "unchanged"
        : $"replaces {previousThumbprint}";

    /// <summary>
    /// Adds the connection middleware that turns the validated client certificate into a
    /// <see cref="ClientCertificateIdentity"/> feature; call it after <c>UseHttps</c>.
    /// </summary>
    public void UseClientIdentity(ListenOptions listenOptions, ILogger logger)
    {
        if (ClientCertificateMode == TlsClientCertificateMode.None)
            return;
        listenOptions.Use(next => context =>
        {
            if (context.Features.Get<ITlsConnectionFeature>()?.ClientCertificate is { } certificate)
            {
                var commonName = CommonName(certificate);
                if (UseCertificateCnAsUsername && string.IsNullOrEmpty(commonName))
                {
                    // The certificate was to be the username; without a CN there is no user to be.
                    LogCertificateWithoutCn(logger, context.RemoteEndPoint?.ToString() ?? "?", certificate.Subject);
                    context.Abort(new ConnectionAbortedException("client certificate without a CN"));
                    return Task.CompletedTask;
                }

                context.Features.Set(new ClientCertificateIdentity(certificate.Subject, commonName, certificate.Thumbprint,
                    UseCertificateCnAsUsername));
            }

            return next(context);
        });
    }

    /// <summary>The subject's CN (the last one when several, the most specific by convention), or null.</summary>
    public static string? CommonName(X509Certificate2 certificate)
    {
        string? commonName = null;
        foreach (var rdn in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            if (rdn.GetSingleElementType().Value == CommonNameOid)
                commonName = rdn.GetSingleElementValue();
        }

        return commonName;
    }

    public static X509Certificate2 LoadServerCertificate(string certificateFile, string? keyFile)
    {
        var certificate = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new CryptographicException("no private key");
        }

        return certificate;
    }

    public static X509Certificate2Collection LoadCaFile(string caFile)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPemFile(caFile);
        if (collection.Count == 0)
            throw new CryptographicException("no certificate in the file");
        return collection;
    }

    private bool ValidateClientCertificate(X509Certificate2 certificate, System.Net.Security.SslPolicyErrors errors, ILogger logger)
    {
        if (TrustedCas is not { } cas)
        {
            // No CA file: the system's trust store decided (SslStream built the chain already).
            if (errors == System.Net.Security.SslPolicyErrors.None)
                return true;
            LogClientCertificateRefused(logger, certificate.Subject, errors.ToString());
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(cas.Current);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ClientAuthenticationOid));
        if (chain.Build(certificate))
            return true;
        var status = string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()).Distinct());
        LogClientCertificateRefused(logger, certificate.Subject, status);
        return false;
    }

    public static bool TryParseMode(string? text, out TlsClientCertificateMode mode)
    {
        mode = TlsClientCertificateMode.None;
        switch (text?.Trim().ToUpperInvariant())
        {
            case "NONE":
                return true;
            case "ALLOW":
                mode = TlsClientCertificateMode.Allow;
                return true;
            case "REQUIRE":
                mode = TlsClientCertificateMode.Require;
                return true;
            default:
                return false;
        }
    }

    private static string? NullIfBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    [LoggerMessage(EventId = 20, Level = LogLevel.Information,
        Message = "TLS certificate {Path} loaded ({Trigger}): {Subject}, thumbprint {Thumbprint}, valid until {NotAfter:u}; {Change}")]
    private static partial void LogCertificateLoaded(ILogger logger, string path, string trigger, string subject, string thumbprint, DateTime notAfter, string change);

    [LoggerMessage(EventId = 21, Level = LogLevel.Error, Message = "TLS certificate {Path} could not be loaded ({Trigger}), keeping the previous one: {Error}")]
    private static partial void LogCertificateReloadFailed(ILogger logger, string path, string trigger, string error);

    [LoggerMessage(EventId = 24, Level = LogLevel.Information, Message = "TLS CA file {Path} loaded ({Trigger}): {Count} certificates")]
    private static partial void LogCaLoaded(ILogger logger, string path, string trigger, int count);

    [LoggerMessage(EventId = 25, Level = LogLevel.Error, Message = "TLS CA file {Path} could not be loaded ({Trigger}), keeping the previous one: {Error}")]
    private static partial void LogCaReloadFailed(ILogger logger, string path, string trigger, string error);

    [LoggerMessage(EventId = 22, Level = LogLevel.Information, Message = "TLS client certificate {Subject} refused: {Status}")]
    private static partial void LogClientCertificateRefused(ILogger logger, string subject, string status);

    [LoggerMessage(EventId = 23, Level = LogLevel.Information, Message = "TLS connection from {Remote} closed: client certificate {Subject} has no CN to use as username")]
    private static partial void LogCertificateWithoutCn(ILogger logger, string remote, string subject);
}
