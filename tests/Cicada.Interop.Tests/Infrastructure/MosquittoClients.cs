using System.Globalization;

namespace Cicada.Interop.Tests.Infrastructure;

/// <summary>
/// Drives Debian's <c>mosquitto_pub</c> / <c>mosquitto_sub</c> against the broker under test. The
/// subscriber runs with <c>-d</c> so that its "received SUBACK" debug line tells us when it is
/// subscribed, and with a tab-separated <c>-F</c> format so messages can be told apart from debug
/// lines and parsed.
/// </summary>
public static class MosquittoClients
{
    private const string MessagePrefix = "MSG\t";

    public static string VersionArgument(MqttVersion version) => version == MqttVersion.V31 ? "mqttv31" : "mqttv311";

    public static async Task<ProcessResult> PublishAsync(
        int port, string topic, string message, int qos = 0, bool retain = false, MqttVersion version = MqttVersion.V311, params string[] extra)
    {
        var arguments = new List<string>
        {
            "-h", "127.0.0.1", "-p", Invariant(port), "-V", VersionArgument(version),
            "-t", topic, "-m", message, "-q", Invariant(qos),
        };
        if (retain)
        {
            arguments.Add("-r");
        }

        arguments.AddRange(extra);
        var result = await ExternalProcess.RunAsync("mosquitto_pub", arguments);
        Assert.True(result.ExitCode == 0, $"mosquitto_pub failed: {result}");
        return result;
    }

    /// <summary>Starts <c>mosquitto_sub</c> and returns once its SUBACK has arrived.</summary>
    public static async Task<MosquittoSubscriber> SubscribeAsync(
        int port, string topic, int qos = 0, int? count = null, MqttVersion version = MqttVersion.V311,
        string? clientId = null, bool cleanSession = true, params string[] extra)
    {
        // stdbuf: mosquitto_sub's stdout is block-buffered on a pipe, and we wait on its lines.
        var arguments = new List<string>
        {
            "-oL", "mosquitto_sub",
            "-h", "127.0.0.1", "-p", Invariant(port), "-V", VersionArgument(version),
            "-t", topic, "-q", Invariant(qos), "-d",
            "-F", MessagePrefix + "%q\t%r\t%t\t%p",
            "-W", Invariant((int)Timeouts.ExternalClient.TotalSeconds),
        };
        if (count is { } c)
        {
            arguments.AddRange(["-C", Invariant(c)]);
        }

        if (clientId is not null)
        {
            arguments.AddRange(["-i", clientId]);
        }

        if (!cleanSession)
        {
            arguments.Add("-c");
        }

        arguments.AddRange(extra);
        var process = ExternalProcess.Start("stdbuf", arguments);
        var subscriber = new MosquittoSubscriber(process);
        try
        {
            // A resumed session's queued messages may arrive (and satisfy -C) before the SUBACK.
            await process.WaitForLineAsync(
                line => line.Contains("received SUBACK", StringComparison.Ordinal) || IsMessageLine(line),
                Timeouts.ExternalClient,
                "SUBACK from mosquitto_sub");
            return subscriber;
        }
        catch
        {
            await subscriber.DisposeAsync();
            throw;
        }
    }

    internal static bool IsMessageLine(string line) => line.StartsWith(MessagePrefix, StringComparison.Ordinal);

    internal static ReceivedMessage ParseMessageLine(string line)
    {
        var parts = line[MessagePrefix.Length..].Split('\t', 4);
        return new ReceivedMessage(parts[2], parts[3], int.Parse(parts[0], CultureInfo.InvariantCulture), parts[1] == "1");
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}

public sealed class MosquittoSubscriber(ExternalProcess process) : IAsyncDisposable
{
    public ExternalProcess Process { get; } = process;

    public IReadOnlyList<ReceivedMessage> Messages =>
        [.. Process.StandardOutputLines.Where(MosquittoClients.IsMessageLine).Select(MosquittoClients.ParseMessageLine)];

    /// <summary>Waits for the subscriber to exit after its <c>-C</c> count and returns what it printed.</summary>
    public async Task<IReadOnlyList<ReceivedMessage>> WaitForExitAsync()
    {
        var result = await Process.WaitForExitAsync(Timeouts.ExternalClient + TimeSpan.FromSeconds(5));
        Assert.True(result.ExitCode == 0, $"mosquitto_sub did not receive everything it expected: {result}");
        return Messages;
    }

    /// <summary>Waits until <paramref name="count"/> messages have been printed.</summary>
    public async Task<IReadOnlyList<ReceivedMessage>> WaitForMessagesAsync(int count)
    {
        var seen = 0;
        await Process.WaitForLineAsync(line => MosquittoClients.IsMessageLine(line) && ++seen >= count, Timeouts.ExternalClient, $"{count} message(s) from mosquitto_sub");
        return Messages;
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
