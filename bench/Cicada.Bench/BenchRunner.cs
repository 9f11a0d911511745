using System.Net.Sockets;
using Cicada.Bench.Results;
using Cicada.Bench.Scenarios;

namespace Cicada.Bench;

/// <summary>Runs one scenario and turns whatever happens into a result: figures, problems or an error.</summary>
internal static class BenchRunner
{
    public static async Task<BenchResult> ExecuteAsync(BenchOptions o, CancellationToken cancellationToken)
    {
        var progress = new Progress(o.Quiet);
        var result = new BenchResult
        {
            Name = o.Name!,
            Scenario = o.Scenario.ToString().ToLowerInvariant(),
            Label = o.Label,
            Broker = $"{o.Host}:{o.Port}",
            StartedAt = DateTimeOffset.Now,
            Qos = o.Qos,
            PayloadBytes = o.PayloadSize,
            Publishers = o.Publishers,
            Subscribers = o.Subscribers,
            CompareTo = o.CompareTo,
        };

        try
        {
            var run = o.Scenario switch
            {
                Scenario.Connect => ConnectionScenarios.RunConnectAsync(o, result, progress, cancellationToken),
                Scenario.Idle => ConnectionScenarios.RunIdleAsync(o, result, progress, cancellationToken),
                Scenario.PubSub when o.IdleSubscribers > 0 => IdleCostScenario.RunAsync(o, result, progress, cancellationToken),
                _ => ThroughputScenario.RunAsync(o, result, progress, cancellationToken),
            };
            await run;
            result.Ok = result.Problems.Count == 0;
        }
        catch (Exception e) when (e is BenchFailureException or OperationCanceledException or IOException or SocketException)
        {
            result.Error = e.Message;
        }

        return result;
    }
}
