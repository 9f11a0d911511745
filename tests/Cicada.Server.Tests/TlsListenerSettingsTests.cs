using System.Net;
using System.Security.Cryptography.X509Certificates;
using Cicada.Core.Auth;
using Cicada.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Cicada.Server.Tests;

/// <summary><c>--amqps</c> and <c>--https</c>: defaults, the certificate they need, and HTTPS without the plain HTTP listener.</summary>
public sealed class TlsListenerSettingsTests : IDisposable
{
    private readonly CliHarness _cli = new();
    private readonly TempDirectory _dir = new();

    public void Dispose()
    {
        _cli.Dispose();
        _dir.Dispose();
    }

    private void UseDevCertificate()
    {
        DevCertificates.Create(_dir.Path);
        _cli.Environment["CICADA_TLS__CERTIFICATEFILE"] = _dir.File(DevCertificates.ServerCertificate);
        _cli.Environment["CICADA_TLS__KEYFILE"] = _dir.File(DevCertificates.ServerKey);
    }

    [Fact]
    public async Task WithoutACertificate_AmqpsAndHttpsAreOff()
    {
        Assert.Equal(0, await _cli.RunAsync("--data", _dir.Path));
        Assert.True(_cli.Served!.AmqpTls.IsOff);
        Assert.True(_cli.Served.HttpTls.IsOff);
    }

    [Fact]
    public async Task ACertificate_TurnsAmqpsOnAt5671_AndHttpsAt8443_UnlessTheOptionsSayOtherwise()
    {
        UseDevCertificate();
        Assert.Equal(0, await _cli.RunAsync("--data", _dir.Path));
        Assert.Equal("0.0.0.0:5671", _cli.Served!.AmqpTls.ToString());
        Assert.Equal("0.0.0.0:8443", _cli.Served.HttpTls.ToString());

        Assert.Equal(0, await _cli.RunAsync("--data", _dir.Path, "--amqps", "off", "--https", "127.0.0.1:9443"));
        Assert.True(_cli.Served.AmqpTls.IsOff);
        Assert.Equal("127.0.0.1:9443", _cli.Served.HttpTls.ToString());

        _cli.Environment["CICADA_AMQP__TLSLISTEN"] = "127.0.0.1:15671";
        Assert.Equal(0, await _cli.RunAsync("--data", _dir.Path));
        Assert.Equal("127.0.0.1:15671", _cli.Served.AmqpTls.ToString());
    }

    [Theory]
    [InlineData("--amqps", "Amqp:TlsListen")]
    [InlineData("--https", "Http:TlsListen")]
    public async Task TlsListenerOption_NeedsACertificate_AndAnAddress(string option, string key)
    {
        Assert.Equal(2, await _cli.RunAsync(option, "127.0.0.1:9999", "--data", _dir.Path));
        Assert.Contains($"{key}: 127.0.0.1:9999 needs a certificate", _cli.Error.ToString(), StringComparison.Ordinal);
        Assert.Null(_cli.Served);

        Assert.Equal(2, await _cli.RunAsync(option, "example.com:1"));
        Assert.Contains(option, _cli.Error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_ListsEveryTlsListener()
    {
        Assert.Equal(0, await _cli.RunAsync("--help"));
        var help = _cli.Out.ToString();
        foreach (var option in new[] { "--mqtts", "--amqps", "--https" })
            Assert.Contains(option, help, StringComparison.Ordinal);
        Assert.Contains("5671", help, StringComparison.Ordinal);
        Assert.Contains("8443", help, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HttpsAlone_ServesTheHttpApp_WithThePlainHttpListenerOff()
    {
        UseDevCertificate();
        var port = Net.FreeTcpPort();
        Assert.Equal(0, await _cli.RunAsync("--mqtt", "off", "--mqtts", "off", "--amqps", "off", "--http", "off", "--https", $"127.0.0.1:{port}",
            "--coap", "off", "--amqp", "off", "--storage", "memory", "--data", _dir.Path));
        await using var app = CicadaServer.Build(_cli.Served!, _cli.ServedConfiguration!);
        await app.StartAsync();
        try
        {
            var ca = X509Certificate2.CreateFromPem(File.ReadAllText(_dir.File(DevCertificates.CaCertificate)));
            using var handler = new SocketsHttpHandler();
            handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                CustomTrustStore = { ca },
                RevocationMode = X509RevocationMode.NoCheck,
            };
            using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
            using var response = await http.GetAsync(new Uri($"https://localhost:{port}/healthz"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        finally
        {
            await app.StopAsync();
        }
    }

    [Fact]
    public async Task ReloadSignal_ReloadsTheUsersFile_ChangedOrNot()
    {
        var users = _dir.File("users");
        File.WriteAllText(users, $"alice:{PasswordHasher.Hash("a"u8)}\n");
        _cli.Environment["CICADA_AUTH__USERSFILE"] = users;
        Assert.Equal(0, await _cli.RunAsync("--mqtt", "off", "--http", "off", "--coap", "off", "--amqp", "off", "--storage", "memory", "--data", _dir.Path));
        await using var app = CicadaServer.Build(_cli.Served!, _cli.ServedConfiguration!);
        var authenticator = app.Services.GetRequiredService<UsersFileAuthenticator>();
        var before = authenticator.UsersFile!.Contents.Version;

        app.Services.GetRequiredService<ReloadSignal>().Reload("test");

        // Loaded again although its time and size did not change.
        Assert.True(authenticator.UsersFile.Contents.Version > before);
        Assert.Equal(AuthResult.Allowed, authenticator.Authenticate(new AuthRequest("c", "alice", "a"u8.ToArray(), "test", null)));
    }
}
