using Cicada.Core;

namespace Cicada.Storage.Sqlite;

/// <summary>
/// A message's column values, captured on the caller's thread when a write is queued: the payload
/// buffer may be pooled and reused once the caller moves on, and encoding on the caller keeps the
/// single writer thread doing only SQL.
/// </summary>
internal readonly record struct StoredMessage(
    string Topic, byte[] Payload, long Qos, long Retain, byte[]? Properties, string? OriginClientId, long? ExpiresAt)
{
    // The payload is always copied, even when it spans a whole array: a rented array can have
    // exactly the payload's length and still go back to the pool before the writer binds it.
    public static StoredMessage From(Message message) => new(
        message.Topic,
        message.Payload.ToArray(),
        (long)message.Qos,
        message.Retain ? 1 : 0,
        MessagePropertiesCodec.Encode(message.Properties),
        message.OriginClientId,
        message.ExpiresAt?.UtcTicks);

    public static DateTimeOffset? ToTime(long? utcTicks) =>
        utcTicks is { } ticks ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;
}
