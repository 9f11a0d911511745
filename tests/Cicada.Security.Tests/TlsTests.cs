using Cicada.Security.Tests.Infrastructure;

namespace Cicada.Security.Tests;

/// <summary>MQTT over TLS (port 8883's listener) with mosquitto's own clients.</summary>
public sealed class TlsTests
{
    [Fact]
    public async Task TlsAndPlainListeners_ServeAtOnce_OneTopicSpace()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings { Tls = true });

        await using var overTls = await Mosquitto.SubscribeAsync(broker.TlsPort, "greetings/#", "--cafile", broker.CaFile);
        var published = await Mosquitto.PublishAsync(broker.Port, "greetings/plain", "over tcp", "-q", "1");
        Assert.True(published.ExitCode == 0, published.ToString());
        published = await Mosquitto.PublishAsync(broker.TlsPort, "greetings/tls", "over tls", "-q", "1", "--cafile", broker.CaFile);
        Assert.True(published.ExitCode == 0, published.ToString());

        var messages = await Mosquitto.ReceiveUntilAsync(overTls, "greetings/tls");
        Assert.Equal([("greetings/plain", "over tcp"), ("greetings/tls", "over tls")], messages);
    }

    [Fact]
    public async Task ServerCertificate_NotTrusted_WithoutTheCa()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings { Tls = true });

        // The system trust store does not know the development CA: the client refuses the server.
        var result = await Mosquitto.PublishAsync(broker.TlsPort, "t", "x", "--capath", "/etc/ssl/certs");
        Assert.NotEqual(0, result.ExitCode);

        // Plain MQTT to the TLS port is no MQTT at all.
        var plain = await Mosquitto.PublishAsync(broker.TlsPort, "t", "x");
        Assert.NotEqual(0, plain.ExitCode);
    }

    [Fact]
    public async Task MutualTls_Required_RefusesClientsWithoutACertificate()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings { Tls = true, ClientCertificateMode = "require" });

        var without = await Mosquitto.PublishAsync(broker.TlsPort, "t", "x", "--cafile", broker.CaFile);
        Assert.NotEqual(0, without.ExitCode);

        // A certificate from another CA is refused too.
        var other = Directory.CreateTempSubdirectory("cicada-sec-other-").FullName;
        try
        {
            Assert.Equal(0, (await SecureBroker.RunCicadaAsync("cert", "dev", "--out", other)).ExitCode);
            var foreign = await Mosquitto.PublishAsync(broker.TlsPort, "t", "x", "--cafile", broker.CaFile,
                "--cert", Path.Combine(other, "client.crt"), "--key", Path.Combine(other, "client.key"));
            Assert.NotEqual(0, foreign.ExitCode);
        }
        finally
        {
            Directory.Delete(other, recursive: true);
        }

        var with = await Mosquitto.PublishAsync(broker.TlsPort, "t", "x", "--cafile", broker.CaFile, "--cert", broker.ClientCertificate, "--key", broker.ClientKey);
        Assert.True(with.ExitCode == 0, with.ToString());
    }

    [Fact]
    public async Task ClientCertificateCn_IsTheUsername_TheAclSees()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Tls = true,
            ClientCertificateMode = "require",
            CertificateCnAsUsername = true,
            ClientCn = "sensor-7",
            Acl = """
                topic read sensors/#
                user sensor-7
                topic write sensors/sensor-7/#
                """,
        });
        string[] tls = ["--cafile", broker.CaFile, "--cert", broker.ClientCertificate, "--key", broker.ClientKey];

        await using var watcher = await Mosquitto.SubscribeAsync(broker.Port, "sensors/#");

        // Allowed as user sensor-7 although the client sent no username (and a wrong one is ignored).
        var own = await Mosquitto.PublishAsync(broker.TlsPort, "sensors/sensor-7/temp", "21.5", ["-q", "1", "-u", "someone-else", .. tls]);
        Assert.True(own.ExitCode == 0, own.ToString());

        // Another sensor's topic: MQTT 5 says why.
        var other = await Mosquitto.PublishAsync(broker.TlsPort, "sensors/sensor-8/temp", "99", ["-q", "1", "-V", "mqttv5", .. tls]);
        Assert.Contains("Not authorized", other.StandardError, StringComparison.OrdinalIgnoreCase);

        // Anonymous over plain TCP has no write rule.
        await Mosquitto.PublishAsync(broker.Port, "sensors/sensor-7/temp", "forged", "-q", "1");

        var sentinel = await Mosquitto.PublishAsync(broker.TlsPort, "sensors/sensor-7/end", "end", ["-q", "1", .. tls]);
        Assert.True(sentinel.ExitCode == 0, sentinel.ToString());
        var messages = await Mosquitto.ReceiveUntilAsync(watcher, "sensors/sensor-7/end");
        Assert.Equal([("sensors/sensor-7/temp", "21.5"), ("sensors/sensor-7/end", "end")], messages);
    }

    [Fact]
    public async Task RenewedServerCertificate_IsServed_WithoutARestart()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings { Tls = true });
        var oldCa = Path.Combine(broker.Directory, "old-ca.crt");
        File.Copy(broker.CaFile, oldCa);
        Assert.Equal(0, (await Mosquitto.PublishAsync(broker.TlsPort, "t", "before", "--cafile", oldCa)).ExitCode);

        // A new CA and server certificate written over the old files, as a renewal job would.
        Assert.Equal(0, (await SecureBroker.RunCicadaAsync("cert", "dev", "--out", broker.CertificateDirectory, "--force")).ExitCode);

        var deadline = DateTime.UtcNow.AddSeconds(10);
        ProcessResult result;
        do
        {
            await Task.Delay(300);
            result = await Mosquitto.PublishAsync(broker.TlsPort, "t", "after", "--cafile", broker.CaFile);
        }
        while (result.ExitCode != 0 && DateTime.UtcNow < deadline);

        Assert.True(result.ExitCode == 0, $"{result}\n{broker.Output}");
        Assert.NotEqual(0, (await Mosquitto.PublishAsync(broker.TlsPort, "t", "old", "--cafile", oldCa)).ExitCode);
    }
}
