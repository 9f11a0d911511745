using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cicada.Server.Hosting;

/// <summary>
/// Makes a throw-away PKI for trying TLS out (<c>cicada cert dev</c>): a self-signed CA, a server
/// certificate for localhost / 127.0.0.1 / ::1 and a client certificate, all ECDSA P-256, written as
/// PEM (<c>ca.crt</c>, <c>server.crt</c> + <c>server.key</c>, <c>client.crt</c> + <c>client.key</c>,
/// and <c>ca.key</c> to sign more clients). Keys are written readable by their owner only.
/// Not for production: nobody guards the CA key.
/// </summary>
public static class DevCertificates
{
    public const string CaCertificate = "ca.crt";
    public const string CaKey = "ca.key";
    public const string ServerCertificate = "server.crt";
    public const string ServerKey = "server.key";
    public const string ClientCertificate = "client.crt";
    public const string ClientKey = "client.key";

    public const string DefaultClientCommonName = "cicada-client";

    public static IReadOnlyList<string> FileNames { get; } =
        [CaCertificate, CaKey, ServerCertificate, ServerKey, ClientCertificate, ClientKey];

    // RFC 5280 §4.2.1.12 extended key usages.
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    /// <summary>Writes the six files into <paramref name="directory"/> (created if needed); returns their paths.</summary>
    public static IReadOnlyList<string> Create(string directory, string clientCommonName = DefaultClientCommonName,
        IEnumerable<string>? extraHostNames = null, DateTimeOffset? now = null)
    {
        Directory.CreateDirectory(directory);
        var start = (now ?? DateTimeOffset.UtcNow).AddDays(-1); // a skewed clock must not make it "not yet valid"

        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Cicada Development CA, O=Cicada", caKey, HashAlgorithmName.SHA256);
        // RFC 5280 §4.2.1.9 / §4.2.1.3: a CA that signs end-entity certificates only.
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(start, start.AddYears(5));

        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        san.AddIpAddress(IPAddress.IPv6Loopback);
        foreach (var host in extraHostNames ?? [])
        {
            if (IPAddress.TryParse(host, out var address))
                san.AddIpAddress(address);
            else
                san.AddDnsName(host);
        }

        var (serverCertificate, serverKey) = Issue(ca, caKey, "CN=localhost, O=Cicada", ServerAuthentication, san.Build(), start);
        var clientName = new X500DistinguishedNameBuilder();
        clientName.AddOrganizationName("Cicada");
        clientName.AddCommonName(clientCommonName);
        var (clientCertificate, clientKey) = Issue(ca, caKey, clientName.Build().Name, ClientAuthentication, null, start);

        var written = new List<string>();
        void Write(string name, string pem, bool secret)
        {
            var path = Path.Combine(directory, name);
            File.WriteAllText(path, pem);
            if (secret && !OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            written.Add(path);
        }

        Write(CaCertificate, ca.ExportCertificatePem() + "\n", false);
        Write(CaKey, caKey.ExportPkcs8PrivateKeyPem() + "\n", true);
        Write(ServerCertificate, serverCertificate + "\n", false);
        Write(ServerKey, serverKey + "\n", true);
        Write(ClientCertificate, clientCertificate + "\n", false);
        Write(ClientKey, clientKey + "\n", true);
        return written;
    }

    private static (string Certificate, string Key) Issue(X509Certificate2 ca, ECDsa caKey, string subject, Oid usage,
        X509Extension? subjectAlternativeName, DateTimeOffset start)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([usage], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        if (subjectAlternativeName is not null)
            request.CertificateExtensions.Add(subjectAlternativeName);

        // RFC 5280 §4.1.2.2: a positive serial of at most 20 octets, unique per CA.
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var certificate = request.Create(ca.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey), start, start.AddYears(1), serial);
        return (certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }
}
