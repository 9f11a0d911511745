using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Cicada.Server.Hosting;
using Microsoft.Extensions.Configuration;

namespace Cicada.Server.Tests;

/// <summary>Certificates (<c>cicada cert dev</c>), the <c>Tls</c> settings, <c>--mqtts</c> and certificate reload.</summary>
public sealed class TlsSettingsTests : IDisposable
{
    private readonly CliHarness _cli = new();
    private readonly TempDirectory _dir = new();

    public void Dispose()
    {
        _cli.Dispose();
        _dir.Dispose();
    }

    private static IConfiguration Config(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(CicadaConfiguration.Defaults).AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private (string Key, string? Value)[] CertificateKeys() =>
    [
        (TlsSettings.CertificateFileKey, _dir.File(DevCertificates.ServerCertificate)),
        (TlsSettings.KeyFileKey, _dir.File(DevCertificates.ServerKey)),
    ];

    [Fact]
    public void DevCertificates_ServerChainsToTheCa_ForLocalhostAndLoopback_AndTheClientForClientAuth()
    {
        DevCertificates.Create(_dir.Path, "sensor-7");
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(_dir.File(DevCertificates.CaCertificate)));
        using var server = TlsSettings.LoadServerCertificate(_dir.File(DevCertificates.ServerCertificate), _dir.File(DevCertificates.ServerKey));
        using var client = TlsSettings.LoadServerCertificate(_dir.File(DevCertificates.ClientCertificate), _dir.File(DevCertificates.ClientKey));

        Assert.True(Chains(server, ca, "1.3.6.1.5.5.7.3.1"));
        Assert.True(Chains(client, ca, "1.3.6.1.5.5.7.3.2"));
        Assert.False(Chains(server, ca, "1.3.6.1.5.5.7.3.2")); // a server certificate is no client certificate
        Assert.True(server.MatchesHostname("localhost"));
        Assert.True(server.MatchesHostname("127.0.0.1"));
        Assert.False(server.MatchesHostname("example.com"));
        Assert.Equal("sensor-7", TlsSettings.CommonName(client));

        // Private keys are for their owner's eyes only.
        foreach (var key in new[] { DevCertificates.CaKey, DevCertificates.ServerKey, DevCertificates.ClientKey })
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_dir.File(key)));
    }

    private static bool Chains(X509Certificate2 certificate, X509Certificate2 ca, string usage)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid(usage));
        return chain.Build(certificate);
    }

    [Fact]
    public async Task CertDev_WritesTheFiles_AndRefusesToOverwriteWithoutForce()
    {
        var outDir = _dir.File("certs");
        Assert.Equal(0, await _cli.RunAsync("cert", "dev", "--out", outDir, "--client-cn", "alice"));
        foreach (var name in DevCertificates.FileNames)
            Assert.True(File.Exists(Path.Combine(outDir, name)), name);
        var before = File.ReadAllText(Path.Combine(outDir, DevCertificates.CaCertificate));

        Assert.Equal(1, await _cli.RunAsync("cert", "dev", "--out", outDir));
        Assert.Contains("--force", _cli.Error.ToString(), StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(Path.Combine(outDir, DevCertificates.CaCertificate)));

        Assert.Equal(0, await _cli.RunAsync("cert", "dev", "--out", outDir, "--force"));
        Assert.NotEqual(before, File.ReadAllText(Path.Combine(outDir, DevCertificates.CaCertificate)));
    }

    [Fact]
    public void NoCertificate_MeansNoTls_AndMqttsOff()
    {
        Assert.True(ServerSettings.TryCreate(Config((CicadaConfiguration.StorageDataDir, _dir.Path)), out var settings, out var errors), string.Join("; ", errors));
        Assert.Null(settings.Tls);
        Assert.True(settings.MqttTls.IsOff);
    }

    [Fact]
    public void ACertificate_TurnsMqttsOnAt8883_UnlessMqttsSaysOtherwise()
    {
        DevCertificates.Create(_dir.Path);
        Assert.True(ServerSettings.TryCreate(Config([.. CertificateKeys(), (CicadaConfiguration.StorageDataDir, _dir.Path)]), out var settings, out var errors),
            string.Join("; ", errors));
        Assert.Equal("0.0.0.0:8883", settings.MqttTls.ToString());
        Assert.Equal(TlsClientCertificateMode.None, settings.Tls!.ClientCertificateMode);

        Assert.True(ServerSettings.TryCreate(Config([.. CertificateKeys(), (CicadaConfiguration.MqttTlsListen, "off")]), out settings, out _));
        Assert.True(settings.MqttTls.IsOff);
    }

    [Fact]
    public async Task MqttsOption_IsParsed_AndNeedsACertificate()
    {
        Assert.Equal(2, await _cli.RunAsync("--mqtts", "127.0.0.1:8884", "--data", _dir.Path));
        Assert.Contains("Tls:CertificateFile", _cli.Error.ToString(), StringComparison.Ordinal);

        Assert.Equal(2, await _cli.RunAsync("--mqtts", "nonsense"));
        Assert.Contains("--mqtts", _cli.Error.ToString(), StringComparison.Ordinal);

        DevCertificates.Create(_dir.Path);
        _cli.Environment["CICADA_TLS__CERTIFICATEFILE"] = _dir.File(DevCertificates.ServerCertificate);
        _cli.Environment["CICADA_TLS__KEYFILE"] = _dir.File(DevCertificates.ServerKey);
        Assert.Equal(0, await _cli.RunAsync("--mqtts", "127.0.0.1:8884", "--data", _dir.Path));
        Assert.Equal("127.0.0.1:8884", _cli.Served!.MqttTls.ToString());
    }

    [Theory]
    [InlineData("Tls:ClientCertificateMode", "sometimes", "Tls:ClientCertificateMode")]
    [InlineData("Tls:UseCertificateCnAsUsername", "true", "Tls:UseCertificateCnAsUsername")] // mode none asks for no certificate
    [InlineData("Tls:CaFile", "/nonexistent/ca.crt", "Tls:CaFile")]
    [InlineData("Tls:KeyFile", "/nonexistent/key.pem", "Tls:CertificateFile/Tls:KeyFile")]
    public void BadTlsSettings_AreRefusedAtStartup_NamingTheKey(string key, string value, string named)
    {
        DevCertificates.Create(_dir.Path);
        var values = CertificateKeys().Where(k => k.Key != key).Append((key, value)).ToArray();
        Assert.False(ServerSettings.TryCreate(Config(values), out _, out var errors));
        Assert.Contains(errors, e => e.StartsWith(named, StringComparison.Ordinal));
    }

    [Fact]
    public void ServerCertificate_IsReloaded_WhenItsFilesChange()
    {
        DevCertificates.Create(_dir.Path);
        var tls = TlsSettings.TryCreate(Config(CertificateKeys()), [])!;
        var first = tls.ServerCertificate;

        // Same files: the same certificate, no reload.
        Assert.Same(first, tls.ServerCertificate);

        DevCertificates.Create(_dir.Path);
        File.SetLastWriteTimeUtc(_dir.File(DevCertificates.ServerCertificate), DateTime.UtcNow.AddSeconds(5));
        var deadline = DateTime.UtcNow.AddSeconds(5);
        var current = tls.ServerCertificate;
        while (current.Thumbprint == first.Thumbprint && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(200); // the files are looked at no more than once a second
            current = tls.ServerCertificate;
        }

        Assert.NotEqual(first.Thumbprint, current.Thumbprint);
    }

    [Fact]
    public void ReloadingFiles_KeepsThePreviousValue_WhenTheChangedFileCannotBeLoaded()
    {
        var path = _dir.File("value");
        File.WriteAllText(path, "1");
        var files = new ReloadingFiles<string>([path], () => int.Parse(File.ReadAllText(path), System.Globalization.CultureInfo.InvariantCulture) > 0
            ? File.ReadAllText(path)
            : throw new IOException("not positive"));
        var failures = new List<string>();
        files.ReloadFailed += failures.Add;
        Assert.Equal("1", files.Current);

        File.WriteAllText(path, "-2");
        files.CheckNow();
        Assert.Equal("1", files.Current);
        Assert.Single(failures);

        File.WriteAllText(path, "33");
        files.CheckNow();
        Assert.Equal("33", files.Current);
        Assert.Equal(2, files.Loads);
    }

    [Fact]
    public async Task MqttsListener_ServesTls12And13_WithTheConfiguredCertificate()
    {
        DevCertificates.Create(_dir.Path);
        var port = Net.FreeTcpPort();
        _cli.Environment["CICADA_TLS__CERTIFICATEFILE"] = _dir.File(DevCertificates.ServerCertificate);
        _cli.Environment["CICADA_TLS__KEYFILE"] = _dir.File(DevCertificates.ServerKey);
        Assert.Equal(0, await _cli.RunAsync("--mqtt", "off", "--mqtts", $"127.0.0.1:{port}", "--http", "off", "--coap", "off", "--amqp", "off", "--amqps", "off", "--https", "off",
            "--storage", "memory", "--data", _dir.Path));
        await using var app = CicadaServer.Build(_cli.Served!, _cli.ServedConfiguration!);
        await app.StartAsync();
        try
        {
            var ca = X509Certificate2.CreateFromPem(File.ReadAllText(_dir.File(DevCertificates.CaCertificate)));
            Assert.Equal(SslProtocols.Tls13, await HandshakeAsync(port, ca, SslProtocols.Tls13));
            Assert.Equal(SslProtocols.Tls12, await HandshakeAsync(port, ca, SslProtocols.Tls12));
        }
        finally
        {
            await app.StopAsync();
        }
    }

    private static async Task<SslProtocols> HandshakeAsync(int port, X509Certificate2 ca, SslProtocols protocols)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var ssl = new SslStream(tcp.GetStream());
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = protocols,
            CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                CustomTrustStore = { ca },
                RevocationMode = X509RevocationMode.NoCheck,
            },
        }).WaitAsync(TimeSpan.FromSeconds(10));
        return ssl.SslProtocol;
    }
}
