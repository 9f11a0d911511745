using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Cicada.Bench.Results;

/// <summary>One run of one scenario against one broker, as written by <c>--json</c>.</summary>
internal sealed class BenchResult
{
    public required string Name { get; init; }
    public required string Scenario { get; init; }
    public required string Label { get; init; }
    public required string Broker { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public int Qos { get; init; }
    public int PayloadBytes { get; init; }
    public int Publishers { get; init; }
    public int Subscribers { get; init; }

    /// <summary>The case whose other-broker runs the report compares this case with, if not its own.</summary>
    public string? CompareTo { get; init; }

    /// <summary>True when the run completed and every integrity check held.</summary>
    public bool Ok { get; set; }

    /// <summary>Why the run failed (refused, disconnected, timed out); null if it completed.</summary>
    public string? Error { get; set; }

    /// <summary>Integrity findings: QoS 1/2 losses, duplicates, reordering, altered payloads.</summary>
    public List<string> Problems { get; init; } = [];

    public ThroughputFigures? Throughput { get; set; }
    public LatencyFigures? Latency { get; set; }
    public ConnectFigures? Connect { get; set; }
    public IdleFigures? Idle { get; set; }
    public IdleCostFigures? IdleCost { get; set; }
}

internal sealed class ThroughputFigures
{
    public long Published { get; set; }
    public long Acknowledged { get; set; }

    /// <summary>Deliveries the subscribers should see: published × subscribers.</summary>
    public long Expected { get; set; }

    /// <summary>Deliveries counted at the subscribers, duplicates included.</summary>
    public long Delivered { get; set; }
    public long Unique { get; set; }
    /// <summary>Expected minus unique deliveries: dropped, or still queued if <see cref="DrainTimedOut"/>.</summary>
    public long Lost { get; set; }

    /// <summary>The broker was still delivering when the drain timeout ended the wait.</summary>
    public bool DrainTimedOut { get; set; }
    public long Duplicates { get; set; }
    public long OutOfOrder { get; set; }
    public long Malformed { get; set; }
    public double PublishSeconds { get; set; }

    /// <summary>From the first publish to the last delivery.</summary>
    public double DeliverySeconds { get; set; }
    public double PublishedPerSecond { get; set; }
    public double DeliveredPerSecond { get; set; }
    public double? TargetRate { get; set; }
}

internal sealed class LatencyFigures
{
    public long Count { get; set; }
    public double P50Us { get; set; }
    public double P99Us { get; set; }
    public double P999Us { get; set; }
    public double MaxUs { get; set; }
    public double MeanUs { get; set; }
}

internal sealed class ConnectFigures
{
    public int Connections { get; set; }
    public double Seconds { get; set; }
    public double ConnectsPerSecond { get; set; }
}

internal sealed class IdleFigures
{
    public int Connections { get; set; }
    public long? RssBeforeKb { get; set; }
    public long? RssAfterKb { get; set; }
    public double? RssPerConnectionBytes { get; set; }
    public double HeldSeconds { get; set; }
}

/// <summary>1→1 throughput without and with idle sessions subscribed to unrelated exact topics.</summary>
internal sealed class IdleCostFigures
{
    public int Sessions { get; set; }
    /// <summary>The mean of the runs just before and just after the idle sessions were there.</summary>
    public double WithoutPerSecond { get; set; }
    public double WithPerSecond { get; set; }

    /// <summary>With ÷ without, in percent: 100 means the idle sessions cost nothing.</summary>
    public double KeptPercent { get; set; }

    /// <summary>How long connecting and subscribing the idle sessions took.</summary>
    public double SetupSeconds { get; set; }
}

[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BenchResult))]
[JsonSerializable(typeof(Report))]
internal sealed partial class ResultJsonContext : JsonSerializerContext;

/// <summary>Result files are for people too: keep "→" and "µ" readable instead of \u-escaped.</summary>
internal static class ResultJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = ResultJsonContext.Default,
    };

    public static string Serialize<T>(T value) =>
        JsonSerializer.Serialize(value, (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T))) + "\n";

    public static T Deserialize<T>(string json) =>
        JsonSerializer.Deserialize(json, (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T)))
        ?? throw new InvalidDataException($"no {typeof(T).Name} in the JSON");
}
