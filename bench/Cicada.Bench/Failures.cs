namespace Cicada.Bench;

/// <summary>The run cannot produce a trustworthy figure: refused, disconnected, timed out.</summary>
internal sealed class BenchFailureException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The broker broke the protocol (an unexpected packet, an ack for an id not in flight).</summary>
internal sealed class MqttViolationException(string message) : Exception(message);
