using Cicada.Core;

namespace Cicada.Bridge;

/// <summary>A bridge's configuration once checked: what <see cref="Bridge"/> runs with.</summary>
public sealed record BridgeSettings
{
    public required string Name { get; init; }
    public required string Host { get; init; }
    public required int Port { get; init; }
    public bool Tls { get; init; }
    public string? CaFile { get; init; }
    public bool TlsInsecureSkipVerify { get; init; }
    public string? Username { get; init; }
    public string? Password { get; init; }
    public required string ClientId { get; init; }

    /// <summary>MQTT 5 (else 3.1.1).</summary>
    public bool V5 { get; init; }
    public bool CleanSession { get; init; }
    public ushort KeepAliveSeconds { get; init; }
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(60);
    public required IReadOnlyList<TopicMapping> Topics { get; init; }

    /// <summary>The bridge's own session in Core: outbound messages queue there while the remote is away.</summary>
    public string CoreClientId => CoreClientIdPrefix + Name;

    public const string CoreClientIdPrefix = "bridge:";

    public string Remote => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    public IEnumerable<TopicMapping> Inbound => Topics.Where(t => t.IsIn);

    public IEnumerable<TopicMapping> Outbound => Topics.Where(t => t.IsOut);

    /// <summary>
    /// The delay before reconnect attempt <paramref name="attempt"/> (0 = the first after a loss):
    /// exponential from <see cref="ReconnectDelay"/>, capped at <see cref="MaxReconnectDelay"/>.
    /// </summary>
    public TimeSpan BackOff(int attempt)
    {
        var seconds = ReconnectDelay.TotalSeconds * Math.Pow(2, Math.Min(attempt, 30));
        return TimeSpan.FromSeconds(Math.Min(seconds, MaxReconnectDelay.TotalSeconds));
    }
}
