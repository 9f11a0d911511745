using System.Text;
using Cicada.Security.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Protocol;

namespace Cicada.Security.Tests;

/// <summary>The HTTP edge over TLS (the 8443 listener, <c>--https</c>): REST and dashboard with curl, MQTT over WSS with MQTTnet.</summary>
public sealed class HttpsTests
{
    private static readonly MqttClientFactory Factory = new();

    [Fact]
    public async Task Https_ServesTheSameApp_ToCurlTrustingTheCa()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings { Tls = true, TlsEdges = true });
        var url = $"https://localhost:{broker.HttpsPort}";
        await using var subscriber = await Mosquitto.SubscribeAsync(broker.Port, "https/#");

        var health = await TlsClients.CurlAsync("--cacert", broker.CaFile, $"{url}/healthz");
        Assert.True(TlsClients.Status(health) == 200, health.ToString());
        Assert.Contains("\"status\":\"ok\"", string.Join('\n', health.StandardOutput), StringComparison.Ordinal);

        var dashboard = await TlsClients.CurlAsync("--cacert", broker.CaFile, $"{url}/");
        Assert.True(TlsClients.Status(dashboard) == 200, dashboard.ToString());

        // A REST publish over HTTPS reaches an MQTT subscriber on plain TCP: one topic space.
        var published = await TlsClients.CurlAsync("--cacert", broker.CaFile, "-X", "POST", "--data-binary", "warm", $"{url}/api/v1/topics/https/kitchen");
        Assert.True(TlsClients.Status(published) is >= 200 and < 300, published.ToString());
        Assert.Equal([("https/kitchen", "warm")], await Mosquitto.ReceiveUntilAsync(subscriber, "https/kitchen"));

        // Without the development CA the client refuses the server (curl: 60, peer certificate not trusted).
        var untrusted = await TlsClients.CurlAsync($"{url}/healthz");
        Assert.Equal(0, TlsClients.Status(untrusted));
        Assert.NotEqual(0, untrusted.ExitCode);
    }

    [Fact]
    public async Task Wss_MqttNetClient_TalksToMqttTcpClients_BothWays()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings { Tls = true, TlsEdges = true });
        await using var tcpSubscriber = await Mosquitto.SubscribeAsync(broker.Port, "wss/#");

        using var wss = Factory.CreateMqttClient();
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        wss.ApplicationMessageReceivedAsync += e =>
        {
            received.TrySetResult($"{e.ApplicationMessage.Topic} {Encoding.UTF8.GetString(e.ApplicationMessage.Payload)}");
            return Task.CompletedTask;
        };
        using var timeout = new CancellationTokenSource(Timeouts.Connect);
        Assert.Equal(MqttClientConnectResultCode.Success,
            (await wss.ConnectAsync(TlsClients.WssOptions(broker, "wss-client", withCertificate: false), timeout.Token)).ResultCode);
        await wss.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("tcp/#", MqttQualityOfServiceLevel.AtLeastOnce).Build(), timeout.Token);

        // WSS → TCP.
        await wss.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("wss/hello").WithPayload("from wss")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), timeout.Token);
        Assert.Equal([("wss/hello", "from wss")], await Mosquitto.ReceiveUntilAsync(tcpSubscriber, "wss/hello"));

        // TCP → WSS.
        var published = await Mosquitto.PublishAsync(broker.Port, "tcp/hello", "from tcp", "-q", "1");
        Assert.True(published.ExitCode == 0, published.ToString());
        Assert.Equal("tcp/hello from tcp", await received.Task.WaitAsync(Timeouts.Packet));

        await wss.DisconnectAsync();
    }

    [Fact]
    public async Task ClientCertificateCn_IsTheUsername_OverHttpsAndWss()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Tls = true,
            TlsEdges = true,
            ClientCertificateMode = "allow",
            CertificateCnAsUsername = true,
            ClientCn = "web-sensor-5",
            Configuration = new Dictionary<string, string> { ["Auth:AllowAnonymous"] = "false" },
            Acl = """
                user web-sensor-5
                topic readwrite web/web-sensor-5/#
                """,
        });
        string[] certificate = ["--cert", broker.ClientCertificate, "--key", broker.ClientKey];
        var url = $"https://localhost:{broker.HttpsPort}/api/v1/topics/web/web-sensor-5/state";

        // REST: anonymous clients are refused; the certificate is a user.
        var anonymous = await TlsClients.CurlAsync("--cacert", broker.CaFile, url);
        Assert.True(TlsClients.Status(anonymous) == 401, anonymous.ToString());
        var withCertificate = await TlsClients.CurlAsync(["--cacert", broker.CaFile, .. certificate, url]);
        Assert.True(TlsClients.Status(withCertificate) == 404, withCertificate.ToString()); // authenticated; nothing retained yet

        // WSS: without a certificate the CONNECT is anonymous and refused (MQTT 5 0x87); with it,
        // the ACL sees user web-sensor-5 (the only one allowed to write web/web-sensor-5/#).
        await using var watcher = await Mosquitto.SubscribeAsync(broker.TlsPort, "web/web-sensor-5/#", ["--cafile", broker.CaFile, .. certificate]);
        using (var anonymousWss = Factory.CreateMqttClient())
        {
            using var timeout = new CancellationTokenSource(Timeouts.Connect);
            var refused = await anonymousWss.ConnectAsync(TlsClients.WssOptions(broker, "wss-anonymous", withCertificate: false), timeout.Token);
            Assert.Equal(MqttClientConnectResultCode.NotAuthorized, refused.ResultCode);
        }

        using var wss = Factory.CreateMqttClient();
        using (var timeout = new CancellationTokenSource(Timeouts.Connect))
        {
            Assert.Equal(MqttClientConnectResultCode.Success,
                (await wss.ConnectAsync(TlsClients.WssOptions(broker, "wss-sensor", withCertificate: true), timeout.Token)).ResultCode);
            await wss.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("web/web-sensor-5/temp").WithPayload("19")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), timeout.Token);
        }

        Assert.Equal([("web/web-sensor-5/temp", "19")], await Mosquitto.ReceiveUntilAsync(watcher, "web/web-sensor-5/temp"));
        await wss.DisconnectAsync();
    }

    [Fact]
    public async Task MutualTlsRequired_RefusesHttpsAndWssClientsWithoutACertificate()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings { Tls = true, TlsEdges = true, ClientCertificateMode = "require" });
        var url = $"https://localhost:{broker.HttpsPort}/healthz";

        var without = await TlsClients.CurlAsync("--cacert", broker.CaFile, url);
        Assert.Equal(0, TlsClients.Status(without));
        Assert.NotEqual(0, without.ExitCode);

        var with = await TlsClients.CurlAsync("--cacert", broker.CaFile, "--cert", broker.ClientCertificate, "--key", broker.ClientKey, url);
        Assert.True(TlsClients.Status(with) == 200, with.ToString());

        using var timeout = new CancellationTokenSource(Timeouts.Connect);
        using (var anonymous = Factory.CreateMqttClient())
        {
            await Assert.ThrowsAnyAsync<Exception>(() => anonymous.ConnectAsync(TlsClients.WssOptions(broker, "wss-no-cert", withCertificate: false), timeout.Token));
        }

        using var client = Factory.CreateMqttClient();
        await client.ConnectAsync(TlsClients.WssOptions(broker, "wss-cert", withCertificate: true), timeout.Token);
        Assert.True(client.IsConnected);
        await client.DisconnectAsync();
    }
}
