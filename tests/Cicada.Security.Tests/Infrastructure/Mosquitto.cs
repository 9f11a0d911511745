
namespace Cicada.Security.Tests.Infrastructure;

/// <summary>
/// Debian's <c>mosquitto_pub</c> / <c>mosquitto_sub</c> with whatever TLS and credential options a
/// test gives. The subscriber runs with <c>-d</c> so its "received SUBACK" line says when it is
/// subscribed, and prints each message as <c>MSG topic payload</c>.
/// </summary>
public static class Mosquitto
{
    private const string Prefix = "MSG\t";

    public static Task<ProcessResult> PublishAsync(int port, string topic, string message, params string[] extra) =>
        ExternalProcess.RunAsync("mosquitto_pub",
            ["-h", "127.0.0.1", "-p", SecureBroker.Invariant(port), "-t", topic, "-m", message, .. extra], Timeouts.ExternalClient);

    public static async Task<ExternalProcess> SubscribeAsync(int port, string filter, params string[] extra)
    {
        // stdbuf: mosquitto_sub's stdout is block-buffered on a pipe, and the test waits on its lines.
        var process = ExternalProcess.Start("stdbuf",
            ["-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", SecureBroker.Invariant(port), "-t", filter, "-d", "-F", Prefix + "%t\t%p", .. extra]);
        try
        {
            await process.WaitForLineAsync(l => l.Contains("received SUBACK", StringComparison.Ordinal), Timeouts.ExternalClient, "SUBACK");
            return process;
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits for a message on <paramref name="topic"/>; returns every message printed up to it.</summary>
    public static async Task<IReadOnlyList<(string Topic, string Payload)>> ReceiveUntilAsync(ExternalProcess subscriber, string topic)
    {
        await subscriber.WaitForLineAsync(l => l.StartsWith(Prefix + topic + "\t", StringComparison.Ordinal), Timeouts.ExternalClient,
            $"message on {topic}");
        return Messages(subscriber);
    }

    public static IReadOnlyList<(string Topic, string Payload)> Messages(ExternalProcess subscriber) =>
        [.. subscriber.StandardOutputLines.Where(l => l.StartsWith(Prefix, StringComparison.Ordinal))
            .Select(l => l[Prefix.Length..].Split('\t', 2)).Select(p => (p[0], p[1]))];
}
