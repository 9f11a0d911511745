using System.Globalization;
using System.Text;
using Cicada.Fuzz.Tests.Http;

namespace Cicada.Fuzz.Tests;

/// <summary>
/// The HTTP edge's own parsing of what users send — topic paths, query strings, content types,
/// device JSON, ACL explain parameters, Last-Event-ID, Authorization, WebSocket handshakes — fuzzed
/// against the real <c>cicada</c> process over a loopback socket (<see cref="HttpRequestGenerator"/>).
/// Asserts for every request: no 5xx, every 4xx an RFC 9457 problem document, a topic URL naming
/// the topic RFC 3986 says it does; and for the run: the broker keeps serving (a publish and read
/// back after every few hundred requests and at the end) and logs no failure or exception.
/// The same knobs as the codec fuzzers: a fixed seed and count by default, <c>FUZZ_SECONDS=N</c> for a
/// longer hunt with a fresh seed, <c>FUZZ_SEED=S</c> to replay.
/// </summary>
public sealed class HttpInputFuzzTests
{
    /// <summary>Requests in the default (scripts/test) run: a few seconds on a loaded 2-core machine.</summary>
    private const int DefaultRequests = 1500;

    [Fact]
    public async Task Http_Inputs_NeverAnswer5xx_Every4xxIsProblemJson_AndTheBrokerKeepsServing()
    {
        var seconds = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_SECONDS"), CultureInfo.InvariantCulture, out var s) ? s : 0;
        var seed = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_SEED"), CultureInfo.InvariantCulture, out var given)
            ? given
            : seconds > 0 ? Random.Shared.Next() : 20_251_125;
        Console.Error.WriteLine($"fuzz http: seed {seed}" + (seconds > 0 ? $", {seconds} s" : $", {DefaultRequests} requests"));

        await using var broker = await HttpFuzzBroker.StartAsync();
        await using var client = new RawHttpClient(broker.Port);
        var generator = new HttpRequestGenerator(new Random(seed));
        var deadline = seconds > 0 ? DateTime.UtcNow.AddSeconds(seconds) : DateTime.MaxValue;
        var statuses = new SortedDictionary<int, int>();
        for (var i = 0; seconds > 0 ? DateTime.UtcNow < deadline : i < DefaultRequests; i++)
        {
            var request = generator.Next();
            RawHttpResponse response;
            try
            {
                response = await client.SendAsync(request.Bytes, request.HeadOnly, request.Method == "HEAD");
            }
            catch (Exception ex) when (ex is IOException or TimeoutException or InvalidDataException)
            {
                Assert.Fail(Report(seed, i, request, $"no valid response: {ex.Message}", broker));
                return;
            }

            statuses[response.Status] = statuses.GetValueOrDefault(response.Status) + 1;
            if (HttpOracle.Judge(request, response) is { } wrong)
            {
                Assert.Fail(Report(seed, i, request, wrong, broker));
            }

            if (request.Target == HttpTarget.DeviceCreate && response.Status == 201)
            {
                // RFC 9110 §10.2.2: Location names the created resource; following it must find the device.
                var location = response.Header("Location")!;
                var found = await client.SendAsync(Encoding.ASCII.GetBytes($"GET {location} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
                Assert.True(found.Status == 200, Report(seed, i, request, $"Location {location} answered {found.Status}: {found.BodyText}", broker));
                await client.SendAsync(Encoding.ASCII.GetBytes($"DELETE {location} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
            }

            if (i % 300 == 299)
            {
                await AssertServingAsync(broker, client, i);
            }
        }

        await AssertServingAsync(broker, client, -1);
        Console.Error.WriteLine("fuzz http statuses: " + string.Join(", ", statuses.Select(p => $"{p.Key}×{p.Value}")));

        // One log line per refusal at most, never a failure: "fail:"/"crit:" lines are unhandled exceptions.
        var failures = broker.OutputLines.Where(l => l.Contains(" fail: ", StringComparison.Ordinal) || l.Contains(" crit: ", StringComparison.Ordinal)
            || l.Contains("Unhandled exception", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(failures.Count == 0, $"fuzz http (FUZZ_SEED={seed}): the broker logged failures:\n{string.Join('\n', failures.Take(5))}");
    }

    private static async Task AssertServingAsync(HttpFuzzBroker broker, RawHttpClient client, int iteration)
    {
        Assert.False(broker.HasExited, $"the broker exited (after request {iteration})\n{broker.Output}");
        var topic = $"fuzz/alive/{iteration + 1}";
        var payload = "alive " + iteration.ToString(CultureInfo.InvariantCulture);
        var published = await client.SendAsync(Encoding.ASCII.GetBytes(
            $"POST /api/v1/topics/{topic}?retain=true HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {payload.Length}\r\n\r\n{payload}"));
        Assert.Equal(200, published.Status);
        var read = await client.SendAsync(Encoding.ASCII.GetBytes($"GET /api/v1/topics/{topic} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        Assert.Equal(200, read.Status);
        Assert.Equal(payload, read.BodyText);
    }

    private static string Report(int seed, int iteration, HttpFuzzRequest request, string wrong, HttpFuzzBroker broker) =>
        $"fuzz http: {wrong}\n  reproduce: FUZZ_SEED={seed} (request {iteration})\n  request:\n{request}\n" +
        $"  broker log (failures, last lines):\n{string.Join('\n', broker.OutputLines.Where(l => l.Contains(" fail: ", StringComparison.Ordinal)).TakeLast(2).Concat(broker.OutputLines.TakeLast(3)))}";
}
