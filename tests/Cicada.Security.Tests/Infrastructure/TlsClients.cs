using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;

namespace Cicada.Security.Tests.Infrastructure;

/// <summary>curl and MQTTnet set up for the broker's development certificates.</summary>
public static class TlsClients
{
    /// <summary>curl printing the body then <c>HTTP status</c> on the last line.</summary>
    public static Task<ProcessResult> CurlAsync(params string[] arguments) =>
        ExternalProcess.RunAsync("curl", ["-sS", "--max-time", "20", "-w", "\nHTTP %{http_code}", .. arguments], Timeouts.ExternalClient);

    /// <summary>The status curl printed, or 0 when there was no response.</summary>
    public static int Status(ProcessResult result) =>
        result.StandardOutput.LastOrDefault(l => l.StartsWith("HTTP ", StringComparison.Ordinal)) is { } line && int.TryParse(line[5..], out var status) ? status : 0;

    /// <summary>MQTTnet over WSS to <c>/mqtt</c>, trusting only the broker's CA, with a client certificate if given.</summary>
    public static MqttClientOptions WssOptions(SecureBroker broker, string clientId, bool withCertificate)
    {
        var ca = new X509Certificate2Collection();
        ca.ImportFromPemFile(broker.CaFile);
        return new MqttClientOptionsBuilder()
            .WithWebSocketServer(o => o.WithUri($"wss://localhost:{broker.HttpsPort}/mqtt"))
            .WithTlsOptions(o =>
            {
                o.UseTls();
                o.WithCertificateValidationHandler(e => TrustedBy(ca, e.Certificate, e.SslPolicyErrors));
                if (withCertificate)
                    o.WithClientCertificates([X509Certificate2.CreateFromPemFile(broker.ClientCertificate, broker.ClientKey)]);
            })
            .WithClientId(clientId)
            .WithTimeout(Timeouts.Connect)
            .Build();
    }

    /// <summary>The server certificate chains to <paramref name="ca"/> and names the host (the CA is not in the system store).</summary>
    private static bool TrustedBy(X509Certificate2Collection ca, X509Certificate certificate, SslPolicyErrors errors)
    {
        if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var server = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(server);
    }
}
