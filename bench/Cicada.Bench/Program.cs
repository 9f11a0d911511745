using Cicada.Bench;
using Cicada.Bench.Results;

// Exit codes: 0 the run completed and every integrity check held; 1 the run failed (refused,
// disconnected, timed out); 2 it completed but the broker broke a delivery guarantee; 64 usage.
if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(BenchOptions.Usage);
    return args.Length == 0 ? 64 : 0;
}

try
{
    return args[0] switch
    {
        "report" => ReportCommand.Run(args[1..]),
        "run" => await RunAsync(BenchOptions.Parse(args[1..])),
        _ => await RunAsync(BenchOptions.Parse(args)),
    };
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"cicada-bench: {e.Message}");
    Console.Error.WriteLine(BenchOptions.Usage);
    return 64;
}

static async Task<int> RunAsync(BenchOptions o)
{
    using var cancel = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        cancel.Cancel();
    };

    var result = await BenchRunner.ExecuteAsync(o, cancel.Token);
    if (result.Error is not null)
    {
        Console.Error.WriteLine($"cicada-bench: FAILED against {result.Broker} ({o.Label}): {result.Error}");
    }

    foreach (var problem in result.Problems)
    {
        Console.Error.WriteLine($"cicada-bench: PROBLEM ({o.Label}): {problem}");
    }

    Console.WriteLine(MarkdownRow.Header);
    Console.WriteLine(MarkdownRow.Format(result));
    if (o.JsonPath is not null)
    {
        await File.WriteAllTextAsync(o.JsonPath, ResultJson.Serialize(result));
    }

    return result.Error is not null ? 1 : result.Problems.Count > 0 ? 2 : 0;
}
