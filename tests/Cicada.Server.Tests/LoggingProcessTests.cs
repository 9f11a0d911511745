using System.Globalization;
using System.Text.Json;

namespace Cicada.Server.Tests;

/// <summary>Log output of the real server process: formats, levels per category, connection lines.</summary>
public sealed class LoggingProcessTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static void PublishOnce(int port, string clientId)
    {
        var (code, _, error) = Tools.Run("mosquitto_pub", "-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture),
            "-i", clientId, "-t", "log-test", "-m", "x");
        Assert.True(code == 0, error);
    }

    [Fact]
    public async Task JsonFormat_WritesOneJsonObjectPerLine_WithUtcTimestamps_AndConnectionFields()
    {
        var port = Net.FreeTcpPort();
        using var server = BrokerProcess.StartDll([.. BrokerProcess.MqttOnly(port, _dir.Path), "--log-format", "json"]);
        Assert.True(await server.WaitForListenerAsync(port), server.Output);

        PublishOnce(port, "json-logger");
        Assert.True(await server.WaitForOutputAsync("json-logger disconnected"), server.Output);
        Assert.Equal(0, server.Stop());

        var entries = server.Lines.Select(line => JsonDocument.Parse(line).RootElement).ToList();
        Assert.All(entries, e =>
        {
            var timestamp = e.GetProperty("Timestamp").GetString()!;
            Assert.EndsWith("Z", timestamp, StringComparison.Ordinal);
            Assert.True(DateTimeOffset.TryParse(timestamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out _), timestamp);
            Assert.False(string.IsNullOrEmpty(e.GetProperty("Category").GetString()));
        });

        // One line at open and one at close, with client id, protocol (the edge's category) and address.
        var connection = entries.Where(e => e.GetProperty("Category").GetString() == "Cicada.Mqtt.MqttConnectionHandler"
            && e.GetProperty("State").TryGetProperty("ClientId", out var id) && id.GetString() == "json-logger").ToList();
        var opened = Assert.Single(connection, e => e.GetProperty("EventId").GetInt32() == 1);
        var closed = Assert.Single(connection, e => e.GetProperty("EventId").GetInt32() == 2);
        Assert.StartsWith("127.0.0.1:", opened.GetProperty("State").GetProperty("Remote").GetString(), StringComparison.Ordinal);
        Assert.Equal("DISCONNECT", closed.GetProperty("State").GetProperty("Reason").GetString());
        Assert.Contains(entries, e => e.GetProperty("Message").GetString()!.StartsWith("Cicada stopped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TextFormat_IsOneLinePerEvent_WithAnIsoUtcTimestamp()
    {
        var port = Net.FreeTcpPort();
        using var server = BrokerProcess.StartDll(BrokerProcess.MqttOnly(port, _dir.Path));
        Assert.True(await server.WaitForListenerAsync(port), server.Output);

        PublishOnce(port, "text-logger");
        Assert.True(await server.WaitForOutputAsync("text-logger disconnected"), server.Output);
        Assert.Equal(0, server.Stop());

        Assert.All(server.Lines, line => Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (trce|dbug|info|warn|fail|crit): ", line));
        Assert.Contains(server.Lines, l => l.Contains("MQTT client text-logger connected from 127.0.0.1:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task LevelPerCategory_FromTheConfigFile_SilencesOnlyThatCategory()
    {
        var port = Net.FreeTcpPort();
        var config = _dir.File("cicada.json");
        await File.WriteAllTextAsync(config, """
            {
              // JSON with comments: the configuration reader skips them.
              "Logging": { "LogLevel": { "Cicada.Mqtt": "Warning" } }
            }
            """);
        using var server = BrokerProcess.StartDll([.. BrokerProcess.MqttOnly(port, _dir.Path), "--config", config]);
        Assert.True(await server.WaitForListenerAsync(port), server.Output);
        Assert.True(await server.WaitForOutputAsync("started"), server.Output);

        PublishOnce(port, "quiet-client");
        Assert.Equal(0, server.Stop());

        Assert.DoesNotContain("quiet-client", server.Output, StringComparison.Ordinal);
        Assert.Contains("Cicada stopped", server.Output, StringComparison.Ordinal);
    }
}
