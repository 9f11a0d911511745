using Cicada.Bridge.Tests.Infrastructure;
using static Cicada.Bridge.Tests.Infrastructure.BridgeConfig;

namespace Cicada.Bridge.Tests;

/// <summary>
/// A bridge over TLS to a mosquitto TLS listener whose certificate comes from a throw-away CA
/// (<c>cicada cert dev</c>): trusted through <c>CaFile</c>, refused without it (the system roots do
/// not know that CA), accepted anyway with <c>TlsInsecureSkipVerify</c>.
/// </summary>
public sealed class TlsTests
{
    [Fact]
    public async Task Tls_VerifiesTheRemoteCertificateAgainstTheCaFile()
    {
        var pki = Directory.CreateTempSubdirectory("cicada-bridge-pki-").FullName;
        try
        {
            await using (var cert = ExternalProcess.Start("dotnet", [Repository.ServerDll, "cert", "dev", "--out", pki]))
            {
                var result = await cert.WaitForExitAsync(Timeouts.Wait);
                Assert.True(result.ExitCode == 0, result.ToString());
            }

            await using var remote = await MosquittoBroker.StartAsync(extraConfig:
                $"cafile {pki}/ca.crt\ncertfile {pki}/server.crt\nkeyfile {pki}/server.key");
            object Tls(string name, object extra) => new Dictionary<string, object>
            {
                ["Name"] = name,
                ["Address"] = $"127.0.0.1:{remote.Port}",
                ["Tls"] = true,
                ["ReconnectDelaySeconds"] = 1,
                ["MaxReconnectDelaySeconds"] = 1,
                ["Topics"] = new[] { Topic("tls/#", "in", 1, localPrefix: name + "/") },
            }.Concat((Dictionary<string, object>)extra).ToDictionary();

            await using var cicada = await CicadaBroker.StartAsync(
                Tls("trusted", new Dictionary<string, object> { ["CaFile"] = $"{pki}/ca.crt" }),
                Tls("untrusted", new Dictionary<string, object>()),
                Tls("insecure", new Dictionary<string, object> { ["TlsInsecureSkipVerify"] = true }));
            await cicada.WaitForLogAsync(Forwarding("trusted"));
            await cicada.WaitForLogAsync(Forwarding("insecure"));
            await cicada.WaitForLogAsync("Bridge untrusted could not connect");
            await using var seen = await MosquittoClients.SubscribeAsync(cicada.Port, "+/tls/#");

            await MosquittoClients.PublishAsync(remote.Port, "tls/x", "secret", 1, "mqttv311", "--cafile", $"{pki}/ca.crt");

            var messages = await seen.WaitForAsync(2);
            Assert.Equal(["insecure/tls/x", "trusted/tls/x"], messages.Select(m => m.Topic).Order(StringComparer.Ordinal));
            Assert.DoesNotContain(cicada.Lines, l => l.Contains("Bridge untrusted connected", StringComparison.Ordinal));
            Assert.Contains(cicada.Lines, l => l.Contains("Bridge untrusted could not connect", StringComparison.Ordinal)
                && l.Contains("TLS", StringComparison.Ordinal));
            Assert.Contains(cicada.Lines, l => l.Contains("Bridge insecure does not verify the certificate", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(pki, recursive: true);
        }
    }
}
