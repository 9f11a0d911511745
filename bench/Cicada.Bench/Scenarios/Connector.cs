using System.Net;
using Cicada.Bench.Mqtt;

namespace Cicada.Bench.Scenarios;

/// <summary>Opens many connections with a bounded number of attempts in flight.</summary>
internal static class Connector
{
    public const ushort KeepAliveSeconds = 60;

    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);

    // Client identifiers stay within what every server must accept (MQTT-3.1.3-5: 1–23 of [0-9a-zA-Z]).
    private static readonly string RunToken = CreateRunToken();

    public static string ClientId(char role, int index) => $"cb{RunToken}{role}{index}";

    /// <summary>
    /// Connects <paramref name="count"/> clients; if any fails, closes the others and rethrows,
    /// so that a refusing broker fails the run instead of silently shrinking it.
    /// </summary>
    public static async Task<MqttBenchClient[]> ConnectManyAsync(
        EndPoint endPoint,
        int count,
        char role,
        Func<int, IPublishSink?> sink,
        int receiveBufferSize,
        int concurrency,
        CancellationToken cancellationToken,
        bool cleanSession = true)
    {
        var clients = new MqttBenchClient[count];
        try
        {
            await Parallel.ForEachAsync(
                Enumerable.Range(0, count),
                new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken },
                async (i, ct) => clients[i] = await MqttBenchClient.ConnectAsync(
                    endPoint, ClientId(role, i), KeepAliveSeconds, sink(i), receiveBufferSize, ConnectTimeout, ct, cleanSession));
        }
        catch
        {
            await DisconnectAllAsync(clients);
            throw;
        }

        return clients;
    }

    public static async Task DisconnectAllAsync(IEnumerable<MqttBenchClient?> clients)
    {
        await Parallel.ForEachAsync(
            clients.Where(c => c is not null),
            new ParallelOptions { MaxDegreeOfParallelism = 1_000 },
            async (client, _) => await client!.DisposeAsync());
    }

    /// <summary>The first client that lost its connection, as an exception to throw.</summary>
    public static void ThrowIfAnyFaulted(IEnumerable<MqttBenchClient?> clients)
    {
        foreach (var client in clients)
        {
            if (client?.Fault is { } fault)
            {
                throw new BenchFailureException($"client {client.ClientId} lost its connection: {fault.Message}", fault);
            }
        }
    }

    private static string CreateRunToken()
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        return string.Create(6, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = alphabet[Random.Shared.Next(alphabet.Length)];
            }
        });
    }
}
