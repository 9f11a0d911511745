using System.Globalization;
using Cicada.Security.Tests.Infrastructure;

namespace Cicada.Security.Tests;

/// <summary>
/// Limits:MaxPublishesPerSecond at the AMQP edge (per connection: channel.close 406) and the CoAP
/// edge (per peer endpoint: 4.29 with Max-Age, RFC 8516), with pika and coap-client against the
/// real broker. A burst of N then far more publishes than a second's refill could cover, so the
/// outcome does not depend on the machine's speed.
/// </summary>
public sealed class EdgeRateLimitTests
{
    private static Task<SecureBroker> StartAsync(int burst) => SecureBroker.StartAsync(new SecureBrokerSettings
    {
        AllEdges = true,
        Configuration = new Dictionary<string, string>
        {
            ["Limits:MaxPublishesPerSecond"] = "1",
            ["Limits:PublishBurst"] = burst.ToString(CultureInfo.InvariantCulture),
        },
    });

    [Fact]
    public async Task Amqp091_PublishRate_ClosesTheChannel406_ConnectionLivesOn_CountedAndLogged()
    {
        await using var broker = await StartAsync(burst: 5);
        var script = Path.Combine(Repository.Root, "tests", "Cicada.Security.Tests", "clients", "pika_rate.py");
        var result = await ExternalProcess.RunAsync("/usr/bin/python3", [script, SecureBroker.Invariant(broker.AmqpPort), "5"], Timeouts.ExternalClient);
        Assert.True(result.ExitCode == 0 && result.StandardOutput.Contains("OK"), $"pika failed:\n{result}\n--- broker ---\n{broker.Output}");

        await broker.WaitForLogAsync("refused by limit publish-rate: client amqp:");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{broker.HttpPort}") };
        Assert.Contains("publish-rate", await http.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rfc8516_CoapPublishRate_Answers429WithMaxAge_PerPeerEndpoint()
    {
        await using var broker = await StartAsync(burst: 3);
        var topic = $"coap://127.0.0.1:{SecureBroker.Invariant(broker.CoapPort)}/ps/rate/coap-{Guid.NewGuid():N}";
        var peer = SecureBroker.Invariant(TestPorts.FreeUdpPort());

        // coap-client binds the same local port each time (-p): one peer endpoint, one bucket.
        var accepted = 0;
        string? refused = null;
        for (var i = 0; i < 30 && refused is null; i++)
        {
            var result = await ExternalProcess.RunAsync("coap-client-notls", ["-v", "6", "-p", peer, "-m", "put", "-e", "v" + i, topic], Timeouts.ExternalClient);
            var output = result.ToString();
            if (output.Contains("c:4.29", StringComparison.Ordinal))
            {
                refused = output;
            }
            else
            {
                Assert.Contains("c:2.0", output, StringComparison.Ordinal);
                accepted++;
            }
        }

        Assert.True(refused is not null, $"30 publishes from one endpoint were all accepted\n{broker.Output}");
        Assert.True(accepted >= 3, $"only {accepted} publishes within the burst of 3 were accepted");
        // RFC 8516 §4: Max-Age says how many seconds until the client may retry.
        Assert.Matches(@"Max-Age:[1-9]", refused);

        // Another endpoint has its own bucket.
        var other = await ExternalProcess.RunAsync("coap-client-notls", ["-v", "6", "-m", "put", "-e", "other", topic], Timeouts.ExternalClient);
        Assert.Contains("c:2.0", other.ToString(), StringComparison.Ordinal);
        await broker.WaitForLogAsync($"refused by limit publish-rate: 127.0.0.1:{peer} publishes");
    }
}
