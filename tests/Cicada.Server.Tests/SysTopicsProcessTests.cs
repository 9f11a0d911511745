namespace Cicada.Server.Tests;

/// <summary><c>$SYS/broker/#</c> read with mosquitto_sub from the real server process, as dashboards read it.</summary>
public sealed class SysTopicsProcessTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static Dictionary<string, string> Parse(string output)
    {
        // mosquitto_sub -v prints "TOPIC PAYLOAD"; "retained messages/count" has a space in its topic.
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var split = line.StartsWith("$SYS/broker/retained messages/count ", StringComparison.Ordinal)
                ? "$SYS/broker/retained messages/count".Length
                : line.IndexOf(' ', StringComparison.Ordinal);
            if (split > 0)
                values[line[..split]] = line[(split + 1)..];
        }
        return values;
    }

    [Fact]
    public async Task MosquittoSub_reads_the_SYS_tree_with_mosquittos_names_and_live_counts()
    {
        var port = Net.FreeTcpPort();
        using var server = BrokerProcess.StartDll(BrokerProcess.MqttOnly(port, _dir.Path),
            new Dictionary<string, string> { ["CICADA_SYS__INTERVALSECONDS"] = "1" });
        Assert.True(await server.WaitForListenerAsync(port), server.Output);

        var (code, _, error) = Tools.Run("mosquitto_pub", "-h", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-t", "sys-test/retained", "-m", "x", "-r", "-q", "1");
        Assert.True(code == 0, error);

        // Retained values arrive at once; the next update (1 s) reports this subscriber as connected.
        var (subCode, output, subError) = Tools.Run("mosquitto_sub", "-h", "127.0.0.1", "-p",
            port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-t", "$SYS/broker/#", "-v", "-W", "4");
        Assert.True(subCode is 0 or 27, $"mosquitto_sub exit {subCode}: {subError}"); // 27: -W timeout
        var values = Parse(output);

        Assert.Equal(Hosting.CicadaServer.Version, values["$SYS/broker/version"].Replace("cicada version ", "", StringComparison.Ordinal));
        Assert.Matches("^[0-9]+ seconds$", values["$SYS/broker/uptime"]);
        Assert.Equal("1", values["$SYS/broker/clients/connected"]);
        Assert.Equal("1", values["$SYS/broker/protocols/mqtt/clients/connected"]);
        Assert.Equal("1", values["$SYS/broker/messages/received"]);
        Assert.Equal("1", values["$SYS/broker/subscriptions/count"]);
        Assert.Matches(@"^[0-9]+\.[0-9]{2}$", values["$SYS/broker/load/messages/received/1min"]);
        Assert.True(int.Parse(values["$SYS/broker/retained messages/count"], System.Globalization.CultureInfo.InvariantCulture) > 1,
            output);
        Assert.Contains("$SYS/broker/messages/sent", values.Keys);
        Assert.Contains("$SYS/broker/clients/total", values.Keys);
        Assert.Contains("$SYS/broker/clients/disconnected", values.Keys);
        Assert.Contains("$SYS/broker/messages/dropped", values.Keys);
        Assert.Equal(0, server.Stop());
    }

    [Fact]
    public async Task IntervalZero_publishes_no_SYS_topics()
    {
        var port = Net.FreeTcpPort();
        using var server = BrokerProcess.StartDll(BrokerProcess.MqttOnly(port, _dir.Path),
            new Dictionary<string, string> { ["CICADA_SYS__INTERVALSECONDS"] = "0" });
        Assert.True(await server.WaitForListenerAsync(port), server.Output);

        var (_, output, _) = Tools.Run("mosquitto_sub", "-h", "127.0.0.1", "-p",
            port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-t", "$SYS/#", "-v", "-W", "2");

        Assert.Equal(string.Empty, output.Trim());
        Assert.Contains("$SYS topics are off", server.Output, StringComparison.Ordinal);
        Assert.Equal(0, server.Stop());
    }
}
