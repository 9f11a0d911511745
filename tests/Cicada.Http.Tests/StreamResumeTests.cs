using System.Globalization;
using System.Text.Json;
using Cicada.Http.Tests.Support;
using static Cicada.Testing.Tools;

namespace Cicada.Http.Tests;

/// <summary>
/// SSE resume (WHATWG HTML §9.2.4): a client reconnecting with <c>Last-Event-ID</c> gets the
/// messages it missed from the broker's replay buffer, and an <c>event: gap</c> when some are gone.
/// </summary>
public sealed class StreamResumeTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly BrokerProcess _broker = fixture.Broker;

    private static string Prefix() => "r" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>One parsed SSE event: its id (null when it had none), type and data.</summary>
    public sealed record SseEvent(string? Id, string Type, string Data)
    {
        public string? Payload => Type == "message" ? JsonDocument.Parse(Data).RootElement.GetProperty("payload").GetString() : null;
    }

    public static List<SseEvent> Parse(string output)
    {
        var events = new List<SseEvent>();
        foreach (var block in output.Replace("\r\n", "\n", StringComparison.Ordinal).Split("\n\n"))
        {
            string? id = null, data = null;
            var type = "message";
            foreach (var line in block.Split('\n'))
            {
                if (line.StartsWith("id: ", StringComparison.Ordinal))
                {
                    id = line[4..];
                }
                else if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    type = line[7..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data = line[6..];
                }
            }

            if (data is not null)
            {
                events.Add(new SseEvent(id, type, data));
            }
        }

        return events;
    }

    private static RunningTool OpenStream(BrokerProcess broker, string filter, string? lastEventId = null) =>
        Start("curl", ["-s", "-N", "--max-time", "20", .. lastEventId is null ? Array.Empty<string>() : ["-H", $"Last-Event-ID: {lastEventId}"],
            $"{broker.BaseUrl}/api/v1/stream?filter={Uri.EscapeDataString(filter)}"]);

    private static void Publish(BrokerProcess broker, string topic, string payload) =>
        Assert.Equal(0, Run("mosquitto_pub", ["-h", "127.0.0.1", "-p", broker.MqttPort.ToString(CultureInfo.InvariantCulture),
            "-t", topic, "-m", payload, "-q", "1"]).ExitCode);

    /// <summary>Opens a stream, publishes one message, and returns that message's event id.</summary>
    private static async Task<string> FirstIdAsync(BrokerProcess broker, string prefix)
    {
        using var first = OpenStream(broker, prefix + "/#");
        Assert.True(await first.WaitForAsync(o => o.Contains(": subscribed", StringComparison.Ordinal)), first.Output);
        Publish(broker, prefix + "/a", "one");
        Assert.True(await first.WaitForAsync(o => Parse(o).Count >= 1), first.Output);
        var e = Assert.Single(Parse(first.Output));
        Assert.Equal("one", e.Payload);
        return e.Id ?? throw new InvalidOperationException("the event had no id:\n" + first.Output);
    }

    [Fact]
    public async Task Reconnect_WithLastEventId_ReplaysTheMissedMatchingMessages_InOrder_ThenGoesLive_WithoutRepeats()
    {
        var prefix = Prefix();
        var lastId = await FirstIdAsync(_broker, prefix);

        // While no stream is open: two matching messages and one that does not match.
        Publish(_broker, prefix + "/a", "two");
        Publish(_broker, Prefix() + "/a", "elsewhere");
        Publish(_broker, prefix + "/b", "three");

        using var resumed = OpenStream(_broker, prefix + "/#", lastId);
        Assert.True(await resumed.WaitForAsync(o => Parse(o).Count >= 2), resumed.Output);
        Publish(_broker, prefix + "/c", "four");
        Assert.True(await resumed.WaitForAsync(o => Parse(o).Count >= 3), resumed.Output);
        await Task.Delay(200);

        var events = Parse(resumed.Output);
        Assert.Equal(["two", "three", "four"], events.Select(e => e.Payload));
        Assert.DoesNotContain(events, e => e.Type == "gap");

        // Ids share the first stream's epoch and grow: the client can resume again from any of them.
        var epoch = lastId[..lastId.IndexOf('.', StringComparison.Ordinal)];
        var numbers = events.Select(e => e.Id!).Select(id =>
        {
            Assert.StartsWith(epoch + ".", id, StringComparison.Ordinal);
            return long.Parse(id[(epoch.Length + 1)..], CultureInfo.InvariantCulture);
        }).ToList();
        Assert.Equal(numbers.Order(), numbers);
        Assert.True(numbers[0] > long.Parse(lastId[(epoch.Length + 1)..], CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task UnknownLastEventId_GetsAGapEvent_ThenTheLiveFeed()
    {
        var prefix = Prefix();
        using var stream = OpenStream(_broker, prefix + "/#", "zz.42");
        Assert.True(await stream.WaitForAsync(o => Parse(o).Count >= 1), stream.Output);
        Publish(_broker, prefix + "/x", "live");
        Assert.True(await stream.WaitForAsync(o => Parse(o).Count >= 2), stream.Output);

        var events = Parse(stream.Output);
        Assert.Equal("gap", events[0].Type);
        var gap = JsonDocument.Parse(events[0].Data).RootElement;
        Assert.Equal("unknown-id", gap.GetProperty("reason").GetString());
        Assert.Equal("zz.42", gap.GetProperty("last_event_id").GetString());
        Assert.Equal("live", events[1].Payload);
    }

    [Fact]
    public async Task IdOlderThanTheBuffer_GetsAGapEvent_ThenWhatIsLeft()
    {
        await using var broker = await BrokerProcess.StartAsync(environment: new Dictionary<string, string>
        {
            ["CICADA_HTTP__STREAMREPLAYMESSAGES"] = "3",
        });
        var prefix = Prefix();
        var lastId = await FirstIdAsync(broker, prefix);
        foreach (var n in new[] { "m1", "m2", "m3", "m4", "m5" })
        {
            Publish(broker, prefix + "/a", n);
        }

        using var resumed = OpenStream(broker, prefix + "/#", lastId);
        Assert.True(await resumed.WaitForAsync(o => Parse(o).Count >= 4), resumed.Output);
        await Task.Delay(200);
        var events = Parse(resumed.Output);
        Assert.Equal("gap", events[0].Type);
        var gap = JsonDocument.Parse(events[0].Data).RootElement;
        Assert.Equal("expired", gap.GetProperty("reason").GetString());
        Assert.Equal(events[1].Id, gap.GetProperty("oldest_event_id").GetString());
        Assert.Equal(["m3", "m4", "m5"], events.Skip(1).Select(e => e.Payload));
    }

    [Fact]
    public async Task BrowserEventSource_ReconnectsWithLastEventId_AndGetsTheMessagePublishedWhileAway()
    {
        var prefix = Prefix();
        // The browser reaches the broker through a relay the test can cut, as a network drop would.
        await using var proxy = new CuttableProxy(_broker.HttpPort);
        await using var browser = await Chromium.StartAsync();
        await browser.NavigateAsync($"http://127.0.0.1:{proxy.Port}/healthz");
        Assert.True(await DeviceRegistryTests.WaitUntil(() => browser.EvaluateAsync("location.pathname").Result == "/healthz"));
        await browser.EvaluateAsync($$"""
            (() => { window.got = []; window.opens = 0;
              const s = new EventSource('/api/v1/stream?filter={{Uri.EscapeDataString(prefix + "/#")}}');
              s.onopen = () => window.opens++;
              s.addEventListener('message', e => window.got.push(JSON.parse(e.data).payload + '@' + e.lastEventId));
              return 'ok'; })()
            """);

        var streamId = string.Empty;
        Assert.True(await DeviceRegistryTests.WaitUntil(() =>
        {
            var subs = JsonDocument.Parse(Curl($"{_broker.BaseUrl}/api/v1/subscriptions").Body).RootElement;
            streamId = subs.EnumerateArray().Where(x => x.GetProperty("filter").GetString() == prefix + "/#")
                .Select(x => x.GetProperty("client_id").GetString()!).FirstOrDefault() ?? string.Empty;
            return streamId.Length > 0;
        }), "the browser's stream never subscribed");
        Publish(_broker, prefix + "/a", "before");
        Assert.True(await DeviceRegistryTests.WaitUntil(() => browser.EvaluateAsync("window.got.length").Result == "1"));

        // The connection drops and a message is published at once: the browser reconnects after the
        // stream's retry (2 s) sending Last-Event-ID, and gets it from the replay buffer.
        proxy.CutAll();
        Publish(_broker, prefix + "/a", "while-away");
        Assert.True(await DeviceRegistryTests.WaitUntil(() => browser.EvaluateAsync("window.got.length").Result == "2", 15),
            "the missed message never arrived: " + await browser.EvaluateAsync("JSON.stringify(window.got)"));
        Assert.Equal("2", await browser.EvaluateAsync("window.opens"));

        var got = JsonSerializer.Deserialize<string[]>(await browser.EvaluateAsync("JSON.stringify(window.got)"))!;
        Assert.StartsWith("before@", got[0], StringComparison.Ordinal);
        Assert.StartsWith("while-away@", got[1], StringComparison.Ordinal);
    }
}
