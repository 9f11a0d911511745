using System.Globalization;

namespace Cicada.Bridge.Tests.Infrastructure;

/// <summary>A message as mosquitto_sub printed it.</summary>
public sealed record Received(string Topic, string Payload, int Qos, bool Retain);

/// <summary>
/// Debian's <c>mosquitto_pub</c> / <c>mosquitto_sub</c>, against either broker. The subscriber runs
/// with <c>-d</c>, whose "received SUBACK" line says when it is subscribed, and prints messages
/// in a tab-separated format told apart from the debug lines by a prefix.
/// </summary>
public static class MosquittoClients
{
    private const string Prefix = "MSG\t";

    public static async Task PublishAsync(int port, string topic, string payload, int qos = 1, string version = "mqttv311", params string[] extra)
    {
        await using var process = ExternalProcess.Start("mosquitto_pub",
            ["-h", "127.0.0.1", "-p", Invariant(port), "-V", version, "-t", topic, "-m", payload, "-q", Invariant(qos), .. extra]);
        var result = await process.WaitForExitAsync(Timeouts.Wait);
        Assert.True(result.ExitCode == 0, $"mosquitto_pub to {port} failed: {result}");
    }

    /// <summary>Starts mosquitto_sub and returns once it is subscribed (or, resuming a session, has a message).</summary>
    public static async Task<Subscriber> SubscribeAsync(int port, string filter, int qos = 1, string? clientId = null, bool persistent = false)
    {
        var arguments = new List<string>
        {
            "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", Invariant(port), "-V", "mqttv311",
            "-t", filter, "-q", Invariant(qos), "-d", "-F", Prefix + "%q\t%r\t%t\t%p",
        };
        if (clientId is not null)
        {
            arguments.AddRange(["-i", clientId]);
        }

        if (persistent)
        {
            arguments.Add("-c");
        }

        // stdbuf: mosquitto_sub's stdout is block-buffered on a pipe, and the test waits on its lines.
        var process = ExternalProcess.Start("stdbuf", arguments);
        try
        {
            await process.WaitForLineAsync(l => l.Contains("received SUBACK", StringComparison.Ordinal) || l.StartsWith(Prefix, StringComparison.Ordinal),
                Timeouts.Wait, "SUBACK from mosquitto_sub");
            return new Subscriber(process);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    public sealed class Subscriber(ExternalProcess process) : IAsyncDisposable
    {
        public IReadOnlyList<Received> Messages => [.. process.Lines.Where(IsMessage).Select(Parse)];

        /// <summary>Waits until <paramref name="count"/> messages arrived and returns them all.</summary>
        public async Task<IReadOnlyList<Received>> WaitForAsync(int count)
        {
            await process.WaitForLinesAsync(IsMessage, count, Timeouts.Wait, $"{count} message(s) at mosquitto_sub");
            return Messages;
        }

        /// <summary>Waits for a message with this payload.</summary>
        public Task WaitForPayloadAsync(string payload) =>
            process.WaitForLineAsync(l => IsMessage(l) && Parse(l).Payload == payload, Timeouts.Wait, $"message '{payload}' at mosquitto_sub");

        public ValueTask DisposeAsync() => process.DisposeAsync();
    }

    private static bool IsMessage(string line) => line.StartsWith(Prefix, StringComparison.Ordinal);

    private static Received Parse(string line)
    {
        var parts = line[Prefix.Length..].Split('\t', 4);
        return new Received(parts[2], parts[3], int.Parse(parts[0], CultureInfo.InvariantCulture), parts[1] == "1");
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
