namespace Cicada.Core;

/// <summary>Quality of service, with MQTT's meaning (MQTT-4.3): every edge maps onto it.</summary>
public enum QoS : byte
{
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

/// <summary>
/// One published application message. Immutable once routed and shared by reference by every
/// subscriber (fan-out by reference): never copy the payload per subscriber.
/// </summary>
public sealed class Message
{
    // Null, one SingleEncoding (the common case: every subscriber wants the same variant), or an
    // object?[EncodingSlots] once a second variant is asked for. Grows only, by CompareExchange.
    private object? _encodings;

    public Message(string topic, ReadOnlyMemory<byte> payload, QoS qos, bool retain,
        MessageProperties? properties = null, string? originClientId = null, DateTimeOffset? expiresAt = null)
    {
        Topic = topic;
        Payload = payload;
        Qos = qos;
        Retain = retain;
        Properties = properties;
        OriginClientId = originClientId;
        ExpiresAt = expiresAt;
    }

    public string Topic { get; }
    public ReadOnlyMemory<byte> Payload { get; }
    public QoS Qos { get; }
    public bool Retain { get; }
    public MessageProperties? Properties { get; }

    /// <summary>Client id of the publisher (for No Local and logging); null for broker-made messages.</summary>
    public string? OriginClientId { get; }

    /// <summary>Absolute expiry (MQTT 5 Message Expiry Interval, AMQP TTL); null = never.</summary>
    public DateTimeOffset? ExpiresAt { get; }

    /// <summary>
    /// When the broker accepted the message, in <see cref="Environment.TickCount64"/> milliseconds
    /// (monotonic, this process only): per-queue TTLs count from it (AMQP x-message-ttl). A message
    /// loaded from the store after a restart counts from its loading.
    /// </summary>
    public long AcceptedAtTick { get; init; } = Environment.TickCount64;

    /// <summary>Row id in the durable store once persisted; 0 when not stored.</summary>
    public long StoreId { get; set; }

    public bool IsExpired(DateTimeOffset now) => ExpiresAt is { } e && e <= now;

    /// <summary>The same message with another retain flag / QoS, sharing payload and properties.</summary>
    public Message With(QoS qos, bool retain) =>
        qos == Qos && retain == Retain
            ? this
            : new Message(Topic, Payload, qos, retain, Properties, OriginClientId, ExpiresAt) { StoreId = StoreId, AcceptedAtTick = AcceptedAtTick };

    /// <summary>
    /// Per-message cache of wire encodings so an edge encodes once per variant (protocol, version,
    /// QoS…) and patches only what differs per subscriber. Each edge reserves its slots once with
    /// <see cref="ReserveEncodingSlots"/>; Core knows nothing of their content.
    /// </summary>
    public T GetOrAddEncoding<T, TState>(int slot, TState state, Func<Message, TState, T> encode)
        where T : class
    {
        while (true)
        {
            var current = Volatile.Read(ref _encodings);
            switch (current)
            {
                case object?[] cache:
                    if (cache[slot] is T cached)
                    {
                        return cached;
                    }

                    var encoded = encode(this, state);
                    return Interlocked.CompareExchange(ref cache[slot], encoded, null) as T ?? encoded;
                case SingleEncoding single when single.Slot == slot:
                    return (T)single.Value;
                case SingleEncoding single:
                    // A second variant: move to the array (the loser of a race retries on it).
                    var grown = new object?[EncodingSlots];
                    grown[single.Slot] = single.Value;
                    Interlocked.CompareExchange(ref _encodings, grown, current);
                    continue;
                default:
                    var made = encode(this, state);
                    if (Interlocked.CompareExchange(ref _encodings, new SingleEncoding(slot, made), null) is null)
                    {
                        return made;
                    }

                    continue; // someone else cached first: take theirs (or grow)
            }
        }
    }

    private sealed class SingleEncoding(int slot, object value)
    {
        public int Slot { get; } = slot;
        public object Value { get; } = value;
    }

    public const int EncodingSlots = 16;

    private static int _reservedSlots;

    /// <summary>
    /// Reserves <paramref name="count"/> consecutive encoding slots for one edge (call once, from a
    /// static initialiser) and returns the first; edges never share a slot.
    /// </summary>
    public static int ReserveEncodingSlots(int count)
    {
        var end = Interlocked.Add(ref _reservedSlots, count);
        if (end > EncodingSlots)
        {
            throw new InvalidOperationException($"More than {EncodingSlots} message encoding slots reserved");
        }

        return end - count;
    }
}

/// <summary>Optional message metadata (MQTT 5 publish properties, AMQP basic properties, HTTP content type).</summary>
public sealed class MessageProperties
{
    public string? ContentType { get; init; }
    public string? ResponseTopic { get; init; }
    public ReadOnlyMemory<byte> CorrelationData { get; init; }
    public bool? PayloadIsUtf8 { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>>? UserProperties { get; init; }
}
