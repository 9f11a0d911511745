using System.Globalization;
using System.Text;
using Cicada.Amqp.Protocol;
using Cicada.Core;

namespace Cicada.Amqp.Routing;

/// <summary>
/// AMQP basic properties ↔ Core's message properties. content-type ↔ ContentType, reply-to ↔
/// ResponseTopic, correlation-id ↔ CorrelationData, headers ↔ user properties (values as text),
/// delivery-mode 2 ↔ QoS 1+, expiration ↔ expiry. A message published over AMQP also keeps its
/// exact encoded properties in its encoding cache, so AMQP consumers get every property as sent.
/// </summary>
internal static class PropertyMapping
{
    /// <summary>Encoding-cache slot of the AMQP properties (MQTT's variants use the low slots).</summary>
    public static readonly int EncodingSlot = Message.ReserveEncodingSlots(1);

    private static readonly Func<Message, int, byte[]> Derive = static (message, _) => FromCore(message).Encode();

    public static MessageProperties? ToCore(BasicProperties p)
    {
        List<KeyValuePair<string, string>>? user = null;
        if (p.Headers is { Count: > 0 } headers)
        {
            foreach (var (key, value) in headers)
            {
                if (ToText(value) is { } text)
                {
                    (user ??= []).Add(new(key, text));
                }
            }
        }

        if (p.ContentType is null && p.ReplyTo is null && p.CorrelationId is null && user is null)
        {
            return null;
        }

        return new MessageProperties
        {
            ContentType = p.ContentType,
            ResponseTopic = p.ReplyTo,
            CorrelationData = p.CorrelationId is null ? default : Encoding.UTF8.GetBytes(p.CorrelationId),
            UserProperties = user,
        };
    }

    public static BasicProperties FromCore(Message message)
    {
        var properties = message.Properties;
        var p = new BasicProperties
        {
            DeliveryMode = message.Qos == QoS.AtMostOnce ? (byte)1 : (byte)2,
            ContentType = properties?.ContentType,
            ReplyTo = properties?.ResponseTopic,
            CorrelationId = properties is { CorrelationData.IsEmpty: false } ? Encoding.UTF8.GetString(properties.CorrelationData.Span) : null,
        };
        if (properties?.UserProperties is { Count: > 0 } user)
        {
            p.Headers = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var (key, value) in user)
            {
                p.Headers[key] = value;
            }
        }

        return p;
    }

    /// <summary>Keeps the properties as the AMQP publisher encoded them.</summary>
    public static void Remember(Message message, byte[] raw) => message.GetOrAddEncoding(EncodingSlot, raw, static (_, r) => r);

    /// <summary>The encoded properties to deliver: as published over AMQP, else derived from Core's.</summary>
    public static byte[] Encoded(Message message) => message.GetOrAddEncoding(EncodingSlot, 0, Derive);

    /// <summary>expiration is a per-message TTL in milliseconds, as text (RabbitMQ's meaning of the field).</summary>
    public static DateTimeOffset? ExpiresAt(BasicProperties p, TimeProvider time) =>
        p.Expiration is { } text && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            ? time.GetUtcNow().AddMilliseconds(ms)
            : null;

    private static string? ToText(object? value) => value switch
    {
        null => null,
        string s => s,
        byte[] b => Encoding.UTF8.GetString(b),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => null,
    };
}
