namespace Cicada.Testing;

/// <summary>A message as a real client library reported it, whichever library that was.</summary>
public sealed record ReceivedMessage(string Topic, string Payload, int QoS, bool Retain);
