using System.Net;
using System.Text;
using Cicada.Security.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;

namespace Cicada.Security.Tests;

/// <summary>
/// Rate and size limits (Limits:MaxPublishesPerSecond, Limits:MaxHttpRequestsPerSecond,
/// Http:MaxBodySize) against the real broker with real clients. Every bound is a burst of N
/// followed by many more requests than one second's refill could cover, so the tests do not
/// depend on how fast the machine is.
/// </summary>
public sealed class RateLimitTests
{
    private static readonly MqttClientFactory Factory = new();

    [Fact]
    public async Task MaxPublishesPerSecond_V5_DisconnectsWith0x96MessageRateTooHigh()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Configuration = new Dictionary<string, string> { ["Limits:MaxPublishesPerSecond"] = "2", ["Limits:PublishBurst"] = "5" },
        });

        using var client = Factory.CreateMqttClient();
        var disconnected = new TaskCompletionSource<MqttClientDisconnectedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.DisconnectedAsync += e =>
        {
            disconnected.TrySetResult(e);
            return Task.CompletedTask;
        };
        using (var timeout = new CancellationTokenSource(Timeouts.Connect))
        {
            await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", broker.Port).WithClientId("rate-v5")
                .WithProtocolVersion(MqttProtocolVersion.V500).Build(), timeout.Token);
        }

        // The burst (5) goes through; the 200 after it cannot all be covered by 2 tokens a second.
        for (var i = 0; i < 200 && client.IsConnected; i++)
        {
            try
            {
                await client.PublishStringAsync("rate/v5", "m" + i);
            }
            catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or MQTTnet.Exceptions.MqttClientNotConnectedException or OperationCanceledException)
            {
                break;
            }
        }

        var args = await disconnected.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(MqttClientDisconnectReason.MessageRateTooHigh, args.Reason);
        await broker.WaitForLogAsync("refused by limit publish-rate");
    }

    [Fact]
    public async Task MaxPublishesPerSecond_V311_ClosesTheConnection_AndSlowClientsKeepPublishing()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Configuration = new Dictionary<string, string> { ["Limits:MaxPublishesPerSecond"] = "1", ["Limits:PublishBurst"] = "5" },
        });
        await using var watcher = await RawMqttClient.ConnectAcceptedAsync(broker.Port, "rate-watcher");
        await watcher.SubscribeAsync(("rate/#", 0));

        // Within the burst: delivered, connection kept.
        await using var polite = await RawMqttClient.ConnectAcceptedAsync(broker.Port, "rate-polite");
        for (var i = 0; i < 3; i++)
        {
            await polite.SendAsync(MqttPackets.Publish("rate/polite", "p" + i));
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("p" + i, (await watcher.ReadPacketAsync(PacketType.Publish)).PayloadText);
        }

        // MQTT 3.1.1 has no reason code for it: the flooding client is closed (MQTT-4.8.0-1).
        await using var flood = await RawMqttClient.ConnectAcceptedAsync(broker.Port, "rate-flood");
        for (var i = 0; i < 200; i++)
        {
            await flood.SendIgnoringErrorsAsync(MqttPackets.Publish("rate/flood", "f" + i));
        }

        await flood.ExpectClosedAsync();
        await broker.WaitForLogAsync("refused by limit publish-rate");

        // The polite client is unaffected: its own bucket.
        await polite.SendAsync(MqttPackets.Publish("rate/polite", "after"));
        // The watcher also saw the flood's first few (its burst); "after" comes once they are read.
        var seen = new List<string>();
        while (!seen.Contains("after"))
        {
            Assert.True(seen.Count < 300, "the polite client's publish after the flood never arrived");
            seen.Add((await watcher.ReadPacketAsync(PacketType.Publish)).PayloadText);
        }
    }

    [Fact]
    public async Task MaxHttpRequestsPerSecond_Answers429WithRetryAfter_HealthzExempt()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Http = true,
            Configuration = new Dictionary<string, string> { ["Limits:MaxHttpRequestsPerSecond"] = "1", ["Limits:HttpRequestBurst"] = "3" },
        });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{broker.HttpPort}") };

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 30 && limited is null; i++)
        {
            var response = await http.GetAsync("/api/v1/topics/rate/http");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited = response;
            }
        }

        // The burst of 3 is always served (404: nothing retained), then 429 (RFC 6585 §4).
        Assert.All(statuses.Take(3), s => Assert.Equal(HttpStatusCode.NotFound, s));
        Assert.NotNull(limited);
        Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "429 without Retry-After");
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        await broker.WaitForLogAsync("refused by limit request-rate");
    }

    [Fact]
    public async Task MaxPublishesPerSecond_Http_CountsPerAddress_429WithRetryAfter()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Http = true,
            Configuration = new Dictionary<string, string> { ["Limits:MaxPublishesPerSecond"] = "1", ["Limits:PublishBurst"] = "2" },
        });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{broker.HttpPort}") };

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 30 && !statuses.Contains(HttpStatusCode.TooManyRequests); i++)
        {
            using var body = new StringContent("v" + i, Encoding.UTF8, "text/plain");
            statuses.Add((await http.PostAsync("/api/v1/topics/rate/http-pub", body)).StatusCode);
        }

        Assert.All(statuses.Take(2), s => Assert.True((int)s is >= 200 and < 300, $"publish within the burst got {s}"));
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);

        // Reading is not publishing: a GET is still served.
        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await http.GetAsync("/api/v1/topics/rate/http-pub")).StatusCode);
        await broker.WaitForLogAsync("refused by limit publish-rate");
    }

    [Fact]
    public async Task HttpMaxBodySize_Answers413_CountsAndLogsTheLimit()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Http = true,
            Configuration = new Dictionary<string, string> { ["Http:MaxBodySize"] = "16" },
        });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{broker.HttpPort}") };

        using var small = new StringContent("tiny");
        Assert.True((await http.PostAsync("/api/v1/topics/size/ok", small)).IsSuccessStatusCode);
        using var big = new StringContent(new string('x', 100));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await http.PostAsync("/api/v1/topics/size/big", big)).StatusCode);

        await broker.WaitForLogAsync("refused by limit http-body-size");
        var metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("http-body-size", metrics, StringComparison.Ordinal);
    }
}
