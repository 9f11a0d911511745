using System.Text;
using System.Text.Json.Serialization;
using Cicada.Core;

namespace Cicada.Http.Rest;

/// <summary>One connected or persistent client, as <c>GET /api/v1/clients</c> lists it.</summary>
public sealed record ClientInfo(
    string ClientId,
    bool Connected,
    string? Protocol,
    string? RemoteAddress,
    DateTimeOffset? ConnectedAt,
    bool Persistent,
    int Subscriptions,
    int Pending,
    int Inflight,
    long Dropped);

public sealed record SubscriptionInfo(string ClientId, string Filter, int MaxQos, bool NoLocal, bool RetainAsPublished);

/// <summary>A message as JSON: UTF-8 payloads as text, anything else as base64.</summary>
public sealed record MessageInfo(
    string Topic,
    int Qos,
    bool Retain,
    string? ContentType,
    int PayloadSize,
    string? Payload,
    string? PayloadBase64)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static MessageInfo From(Message message, bool? retain = null, QoS? qos = null)
    {
        var span = message.Payload.Span;
        string? text = null;
        string? base64 = null;
        try
        {
            text = StrictUtf8.GetString(span);
        }
        catch (DecoderFallbackException)
        {
            base64 = Convert.ToBase64String(span);
        }

        return new MessageInfo(message.Topic, (int)(qos ?? message.Qos), retain ?? message.Retain, message.Properties?.ContentType,
            span.Length, text, base64);
    }
}

public sealed record HealthInfo(string Status, string Version, long Connections, int Sessions, int Retained, int Subscriptions);

public sealed record PublishResult(string Topic, int Qos, bool Retain, int PayloadSize);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ClientInfo[]))]
[JsonSerializable(typeof(SubscriptionInfo[]))]
[JsonSerializable(typeof(MessageInfo))]
[JsonSerializable(typeof(MessageInfo[]))]
[JsonSerializable(typeof(HealthInfo))]
[JsonSerializable(typeof(PublishResult))]
internal sealed partial class HttpJsonContext : JsonSerializerContext
{
}
