using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Cicada.Security.Tests.Infrastructure;

namespace Cicada.Security.Tests;

/// <summary>Every TLS listener (MQTT 8883, AMQPS 5671, HTTPS 8443) speaks TLS 1.2 and 1.3 only (RFC 8996 deprecates 1.0 and 1.1).</summary>
public sealed class TlsVersionTests
{
    [Fact]
    public async Task Tls10And11_AreRefused_Tls12And13_Negotiated_OnEveryTlsListener()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings { Tls = true, TlsEdges = true });

        foreach (var (name, port) in new[] { ("mqtts", broker.TlsPort), ("amqps", broker.AmqpsPort), ("https", broker.HttpsPort) })
        {
            foreach (var old in new[] { TlsProbe.Tls10, TlsProbe.Tls11 })
            {
                var (answer, alert) = await TlsProbe.HelloAsync(port, old);
                Assert.True(answer != TlsAnswer.ServerHello, $"{name} accepted TLS version 0x{old:x4}");
                if (answer == TlsAnswer.Alert)
                    Assert.Equal(TlsProbe.ProtocolVersionAlert, alert);
            }

            // The same hand-made hello offering TLS 1.2 is answered: the refusal above is about the version.
            Assert.Equal(TlsAnswer.ServerHello, (await TlsProbe.HelloAsync(port, TlsProbe.Tls12)).Answer);
            Assert.Equal(SslProtocols.Tls13, await NegotiateAsync(port, SslProtocols.Tls13));
            Assert.Equal(SslProtocols.Tls12, await NegotiateAsync(port, SslProtocols.Tls12));
        }
    }

    private static async Task<SslProtocols> NegotiateAsync(int port, SslProtocols protocol)
    {
        using var tcp = new TcpClient();
        using var timeout = new CancellationTokenSource(Timeouts.Connect);
        await tcp.ConnectAsync("127.0.0.1", port, timeout.Token);
        await using var ssl = new SslStream(tcp.GetStream());
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = protocol,
            // The version is under test here, not the trust chain (HttpsTests and AmqpsTests check that).
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        }, timeout.Token);
        return ssl.SslProtocol;
    }
}
