using Cicada.Security.Tests.Infrastructure;

namespace Cicada.Security.Tests;

/// <summary>AMQP 0-9-1 over TLS (the 5671 listener, <c>--amqps</c>) with pika, Python's RabbitMQ client.</summary>
public sealed class AmqpsTests
{
    private static Task<ProcessResult> PikaAsync(params string[] arguments) =>
        ExternalProcess.RunAsync("/usr/bin/python3", [Path.Combine(Repository.Root, "tests", "Cicada.Security.Tests", "clients", "pika_tls.py"), .. arguments],
            Timeouts.ExternalClient);

    [Fact]
    public async Task Pika_OverTls_WithPlainCredentials_PublishesToAnMqttSubscriber()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Tls = true,
            TlsEdges = true,
            Users = new Dictionary<string, string> { ["alice"] = "alice-secret" },
            Configuration = new Dictionary<string, string> { ["Auth:AllowAnonymous"] = "false" },
        });
        var port = SecureBroker.Invariant(broker.AmqpsPort);
        await using var subscriber = await Mosquitto.SubscribeAsync(broker.Port, "amqps/#", "-u", "alice", "-P", "alice-secret");

        // AMQP routing key amqps.alice is MQTT topic amqps/alice (the one topic space).
        var published = await PikaAsync(port, broker.CaFile, "--user", "alice", "--password", "alice-secret", "--publish", "amqps.alice", "over amqps");
        Assert.True(published.ExitCode == 0, $"{published}\n{broker.Output}");
        Assert.Equal(["OPENED", "PUBLISHED"], published.StandardOutput);
        Assert.Equal([("amqps/alice", "over amqps")], await Mosquitto.ReceiveUntilAsync(subscriber, "amqps/alice"));

        // The same users file as every edge: a wrong password is refused over TLS as in the clear.
        var wrong = await PikaAsync(port, broker.CaFile, "--user", "alice", "--password", "wrong");
        Assert.Equal(3, wrong.ExitCode);

        // A client that does not trust the broker's CA (the system store) never gets to AMQP.
        var untrusted = await PikaAsync(port, "/etc/ssl/certs/ca-certificates.crt", "--user", "alice", "--password", "alice-secret");
        Assert.Equal(3, untrusted.ExitCode);
    }

    [Fact]
    public async Task Pika_SaslExternal_TheClientCertificateCnIsTheUser_AndMutualTlsRefusesClientsWithoutOne()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Tls = true,
            TlsEdges = true,
            ClientCertificateMode = "require",
            CertificateCnAsUsername = true,
            ClientCn = "amqp-sensor-3",
            Acl = """
                user amqp-sensor-3
                topic readwrite amqp-sensors/#
                """,
            Configuration = new Dictionary<string, string> { ["Auth:AllowAnonymous"] = "false" },
        });
        var port = SecureBroker.Invariant(broker.AmqpsPort);
        string[] certificate = ["--cert", broker.ClientCertificate, "--key", broker.ClientKey];

        await using var subscriber = await Mosquitto.SubscribeAsync(broker.TlsPort, "amqp-sensors/#", ["--cafile", broker.CaFile, .. certificate]);

        // EXTERNAL (RFC 4422 Appendix A) as RabbitMQ's rabbitmq_auth_mechanism_ssl: no password at
        // all, and anonymous clients are refused, so the certificate is what let it in; only its
        // user may write amqp-sensors/#, so the ACL saw the CN too.
        var external = await PikaAsync([port, broker.CaFile, .. certificate, "--external", "--publish", "amqp-sensors.t", "21.5"]);
        Assert.True(external.ExitCode == 0, $"{external}\n{broker.Output}");
        Assert.Equal([("amqp-sensors/t", "21.5")], await Mosquitto.ReceiveUntilAsync(subscriber, "amqp-sensors/t"));
        await broker.WaitForLogAsync("opened (user amqp-sensor-3");

        // Mutual TLS required: without a certificate there is no connection, whatever the credentials.
        var without = await PikaAsync(port, broker.CaFile, "--external");
        Assert.Equal(3, without.ExitCode);
        var withoutPlain = await PikaAsync(port, broker.CaFile);
        Assert.Equal(3, withoutPlain.ExitCode);

        // A certificate from another CA is refused in the handshake.
        var other = Directory.CreateTempSubdirectory("cicada-sec-other-").FullName;
        try
        {
            Assert.Equal(0, (await SecureBroker.RunCicadaAsync("cert", "dev", "--out", other, "--client-cn", "amqp-sensor-3")).ExitCode);
            var foreign = await PikaAsync(port, broker.CaFile, "--cert", Path.Combine(other, "client.crt"), "--key", Path.Combine(other, "client.key"), "--external");
            Assert.Equal(3, foreign.ExitCode);
        }
        finally
        {
            Directory.Delete(other, recursive: true);
        }
    }
}
