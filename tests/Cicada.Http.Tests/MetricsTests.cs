using System.Globalization;
using System.Text.RegularExpressions;
using Cicada.Http.Tests.Support;
using static Cicada.Testing.Tools;

namespace Cicada.Http.Tests;

/// <summary>
/// <c>/metrics</c> (Prometheus text exposition): bytes in/out per protocol and the storage commit
/// latency histogram, read after real traffic on a broker of the test's own (so the figures are its).
/// </summary>
public sealed partial class MetricsTests
{
    [GeneratedRegex(@"^(?<name>[a-z_]+)\{(?<labels>[^}]*)\} (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex Sample();

    /// <summary>Sum of the samples named <paramref name="name"/> whose labels contain <paramref name="label"/>.</summary>
    private static double Value(string body, string name, string label) =>
        Sample().Matches(body)
            .Where(m => m.Groups["name"].Value == name && m.Groups["labels"].Value.Contains(label, StringComparison.Ordinal))
            .Sum(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));

    private static string Scrape(BrokerProcess broker)
    {
        var (status, body, _) = Curl($"{broker.BaseUrl}/metrics");
        Assert.Equal(200, status);
        return body;
    }

    [Fact]
    public async Task BytesPerProtocol_AndStoreCommitLatency_AreExposed_AfterTraffic()
    {
        await using var broker = await BrokerProcess.StartAsync(storage: "sqlite");
        var before = Scrape(broker);
        var mqttInBefore = Value(before, "cicada_bytes_received_bytes_total", "protocol=\"mqtt\"");
        var mqttOutBefore = Value(before, "cicada_bytes_sent_bytes_total", "protocol=\"mqtt\"");

        // 20 kB in over MQTT (QoS 1, retained: a durable write), and out again to a subscriber.
        var port = broker.MqttPort.ToString(CultureInfo.InvariantCulture);
        var payload = new string('x', 20_000);
        Assert.Equal(0, Run("mosquitto_pub", ["-h", "127.0.0.1", "-p", port, "-t", "metrics/big", "-m", payload, "-q", "1", "-r"]).ExitCode);
        var sub = Run("mosquitto_sub", ["-h", "127.0.0.1", "-p", port, "-t", "metrics/big", "-C", "1", "-W", "10"]);
        Assert.Equal(payload, sub.Output.TrimEnd('\n'));

        // Counters are read at scrape time; poll until the byte counts include the traffic.
        string after = string.Empty;
        Assert.True(await DeviceRegistryTests.WaitUntil(() =>
        {
            after = Scrape(broker);
            return Value(after, "cicada_bytes_received_bytes_total", "protocol=\"mqtt\"") >= mqttInBefore + 20_000
                && Value(after, "cicada_bytes_sent_bytes_total", "protocol=\"mqtt\"") >= mqttOutBefore + 20_000;
        }), after);

        // The first scrape's request and response went over the HTTP listener.
        Assert.True(Value(after, "cicada_bytes_received_bytes_total", "protocol=\"http\"") > 0, after);
        Assert.True(Value(after, "cicada_bytes_sent_bytes_total", "protocol=\"http\"") > 0, after);
        Assert.Contains("# TYPE cicada_bytes_sent_bytes_total counter", after, StringComparison.Ordinal);

        // The retained QoS 1 message was committed to SQLite at least once, in a sub-second bucket.
        Assert.Contains("# TYPE cicada_store_commit_duration_seconds histogram", after, StringComparison.Ordinal);
        Assert.True(Value(after, "cicada_store_commit_duration_seconds_count", "store=\"sqlite\"") >= 1, after);
        Assert.True(Value(after, "cicada_store_commit_duration_seconds_bucket", "le=\"1\"") >= 1, after);
    }
}
