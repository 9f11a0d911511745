using System.Net;
using System.Text;
using Cicada.Coap.Protocol;
using Cicada.Core;
using Cicada.Core.Auth;
using Cicada.Core.Topics;

namespace Cicada.Coap;

/// <summary>One request on its way through the edge.</summary>
internal sealed class RequestContext(CoapMessage request, IPEndPoint remote)
{
    public CoapMessage Request { get; } = request;
    public IPEndPoint Remote { get; } = remote;

    /// <summary>Uri-Path segments (RFC 7252 §6.5: each option is one segment, already percent-decoded).</summary>
    public string[] Path { get; } = request.Strings(CoapOptionNumber.UriPath).ToArray();

    /// <summary>Uri-Query parameters <c>key=value</c> (§6.5); the first of a repeated key wins.</summary>
    public Dictionary<string, string> Query { get; } = ParseQuery(request);

    public string PathString => string.Join('/', Path);

    /// <summary>Client id: <c>?c=</c> when given, else one derived from the peer's address.</summary>
    public string ClientId => Query.TryGetValue("c", out var c) && c.Length > 0 ? c : "coap:" + Remote;

    /// <summary>The user <c>?u=</c> named once the authenticator accepted it; null for an anonymous client.</summary>
    public string? Username { get; set; }

    /// <summary>An observation this request registered, activated once its response is out.</summary>
    public Observation? Registered { get; set; }

    private static Dictionary<string, string> ParseQuery(CoapMessage request)
    {
        var query = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in request.Strings(CoapOptionNumber.UriQuery))
        {
            var eq = item.IndexOf('=', StringComparison.Ordinal);
            var (key, value) = eq < 0 ? (item, string.Empty) : (item[..eq], item[(eq + 1)..]);
            query.TryAdd(key, value);
        }

        return query;
    }
}

public sealed partial class CoapServer
{
    /// <summary>Path prefix of the topic space: <c>coap://host/ps/{topic}</c> (DESIGN.md mapping).</summary>
    public const string TopicPrefix = "ps";

    private async Task<CoapMessage?> HandleRequestAsync(RequestContext context)
    {
        var request = context.Request;
        if (CheckOptions(request) is { } optionError)
        {
            return optionError;
        }

        if (request.Code is not (CoapCode.Get or CoapCode.Put or CoapCode.Post or CoapCode.Delete))
        {
            // §5.8: a request with an unrecognised or unsupported method code MUST get 4.05,
            // whatever resource it names (FETCH, PATCH, iPATCH and unassigned codes included).
            return Error(request, CoapCode.MethodNotAllowed, "GET, PUT, POST or DELETE");
        }

        var path = context.Path;
        if (path is [".well-known", "core"])
        {
            return request.Code == CoapCode.Get
                ? await AuthenticateAsync(context) ?? Discovery(context)
                : Error(request, CoapCode.MethodNotAllowed, "GET only");
        }

        if (path is [DevicesPrefix, var device, "commands", var command])
        {
            return await DeviceCommandAsync(context, device, command);
        }

        if (path.Length == 0 || path[0] != TopicPrefix)
        {
            return Error(request, CoapCode.NotFound, "no such resource");
        }

        if (path.Length == 1)
        {
            // The pub/sub function set's collection: GET lists its topics (as discovery does).
            return request.Code == CoapCode.Get
                ? await AuthenticateAsync(context) ?? Discovery(context)
                : Error(request, CoapCode.MethodNotAllowed, "GET only");
        }

        if (context.Query.TryGetValue("c", out var chosenId) && Core.Sessions.InternalClientIds.IsReserved(chosenId))
        {
            // ?c= names a Core session; the broker's own (bridge:, amqp:, sse:, coap:…) are not a client's to take over.
            return Error(request, CoapCode.BadRequest, $"client id '{chosenId}' is in a namespace reserved for the broker's own sessions");
        }

        var authError = await AuthenticateAsync(context);
        if (authError is not null)
        {
            return authError;
        }

        var topic = string.Join('/', path.AsSpan(1));
        if (Authorize(context, topic) is { } denied)
        {
            return denied;
        }
        return request.Code switch
        {
            CoapCode.Get => Get(context, topic),
            CoapCode.Delete => await DeleteAsync(context, topic),
            _ => await PublishAsync(context, topic),
        };
    }

    /// <summary>
    /// RFC 7252 §5.4.1: an unrecognised critical option makes a CON request a 4.02 and rejects a
    /// NON one; an option of the wrong length or repeated when it may not be is treated as
    /// unrecognised (§5.4.3, §5.4.5). Elective ones are ignored. We are no proxy (§5.7.2: 5.05).
    /// </summary>
    private static CoapMessage? CheckOptions(CoapMessage request)
    {
        var previous = -1;
        foreach (var option in request.Options)
        {
            var format = CoapOptionNumber.Format(option.Number);
            var bad = format is not { } f
                || option.Value.Length < f.Min || option.Value.Length > f.Max
                || (!f.Repeatable && option.Number == previous);
            previous = option.Number;
            if (bad && CoapOptionNumber.IsCritical(option.Number))
            {
                return request.Type == CoapType.Confirmable
                    ? Error(request, CoapCode.BadOption, $"option {option.Number} not understood")
                    : new CoapMessage { Type = CoapType.Reset };
            }

            if (!bad && option.Number is CoapOptionNumber.ProxyUri or CoapOptionNumber.ProxyScheme)
            {
                return Error(request, CoapCode.ProxyingNotSupported, "not a proxy");
            }

            // RFC 7252 §3.2: a string option is UTF-8. Decoded leniently, an invalid Uri-Path became
            // a topic with U+FFFD in it, and the publish was accepted (2.01; found by the raw-socket suite).
            if (!bad && option.Number is CoapOptionNumber.UriPath or CoapOptionNumber.UriQuery && !System.Text.Unicode.Utf8.IsValid(option.Value.Span))
            {
                return Error(request, CoapCode.BadRequest, $"option {option.Number} is not UTF-8 (RFC 7252 §3.2)");
            }
        }

        return null;
    }

    /// <summary><c>?c=&amp;u=&amp;p=</c> checked by the same authenticator as MQTT's CONNECT; 4.01 when refused.</summary>
    private async Task<CoapMessage?> AuthenticateAsync(RequestContext context)
    {
        context.Query.TryGetValue("u", out var user);
        ReadOnlyMemory<byte>? password = context.Query.TryGetValue("p", out var p) ? Encoding.UTF8.GetBytes(p) : null;
        var result = await _authenticator.AuthenticateAsync(
            new AuthRequest(context.ClientId, string.IsNullOrEmpty(user) ? null : user, password, "coap", context.Remote),
            CancellationToken.None);
        if (result == AuthResult.Allowed)
        {
            context.Username = string.IsNullOrEmpty(user) ? null : user;
            return null;
        }

        CoapLog.Refused(_logger, context.Remote, context.ClientId, result);
        return Error(context.Request, CoapCode.Unauthorized, result == AuthResult.BadCredentials ? "bad credentials" : "not authorized");
    }

    private CoapMessage Get(RequestContext context, string topic)
    {
        var request = context.Request;
        var observe = request.GetUInt(CoapOptionNumber.Observe);
        if (observe == 0)
        {
            return Observe(context, topic);
        }

        if (observe == 1)
        {
            // RFC 7641 §3.6: Observe=1 with the observation's token deregisters; the GET is then
            // answered as a plain one. (A plain GET does not: clients reuse the token for the
            // follow-up block requests of a notification, RFC 7959 §3.4.)
            RemoveObservation(context.Remote, request.Token, "deregistered");
        }

        // Later blocks of a body this peer is fetching, a filter's notification included.
        if (BlockTransferGet(context) is { } continued)
        {
            return continued;
        }

        if (!TopicValidator.IsValidTopicName(topic))
        {
            return Error(request, CoapCode.BadRequest, "wildcards only with Observe");
        }

        var message = _broker.Retained.Get(topic);
        var now = _time.GetUtcNow();
        if (message is null || message.IsExpired(now))
        {
            return Error(request, CoapCode.NotFound, "nothing retained");
        }

        return Representation(context, message, CoapCode.Content, now);
    }

    /// <summary>A 2.05 carrying <paramref name="message"/>, or 2.03 when the client's ETag is current (§5.10.6.2).</summary>
    private CoapMessage Representation(RequestContext context, Message message, byte code, DateTimeOffset now)
    {
        var request = context.Request;
        var format = ContentFormats.FromMediaType(message.Properties?.ContentType);
        if (request.GetUInt(CoapOptionNumber.Accept) is { } accept && format is { } f && accept != f)
        {
            return Error(request, CoapCode.NotAcceptable, $"the value is content-format {f}");
        }

        var etag = ETagOf(message);
        var response = CoapMessage.ResponseTo(request, code);
        AddMaxAge(response, message, now);
        if (request.All(CoapOptionNumber.ETag).Any(o => o.Value.Span.SequenceEqual(etag)))
        {
            response.Code = CoapCode.Valid;
            response.Add(CoapOptionNumber.ETag, etag);
            return response;
        }

        response.Add(CoapOptionNumber.ETag, etag);
        if (format is { } cf)
        {
            response.AddUInt(CoapOptionNumber.ContentFormat, cf);
        }

        return WithBody(context, response, message.Payload, etag);
    }

    /// <summary>§5.10.5: Max-Age from the message's expiry; absent means the default 60 s.</summary>
    private static void AddMaxAge(CoapMessage response, Message message, DateTimeOffset now)
    {
        if (message.ExpiresAt is { } expires)
        {
            var seconds = Math.Max(0, Math.Ceiling((expires - now).TotalSeconds));
            response.AddUInt(CoapOptionNumber.MaxAge, (uint)Math.Min(seconds, uint.MaxValue));
        }
    }

    private async Task<CoapMessage> DeleteAsync(RequestContext context, string topic)
    {
        var request = context.Request;
        if (!TopicValidator.IsValidTopicName(topic))
        {
            return Error(request, CoapCode.BadRequest, "not a topic name");
        }

        if (topic.StartsWith('$'))
        {
            return Error(request, CoapCode.Forbidden, "$-topics belong to the broker");
        }

        // An empty retained message clears the topic (MQTT-3.3.1-10), exactly as over MQTT.
        await _broker.PublishAsync(new Message(topic, ReadOnlyMemory<byte>.Empty, QoS.AtMostOnce, retain: true,
            originClientId: context.ClientId));
        return CoapMessage.ResponseTo(request, CoapCode.Deleted);
    }

    private async Task<CoapMessage> PublishAsync(RequestContext context, string topic)
    {
        var request = context.Request;
        if (!TopicValidator.IsValidTopicName(topic))
        {
            return Error(request, CoapCode.BadRequest, "not a topic name (no + or #)");
        }

        if (topic.StartsWith('$'))
        {
            return Error(request, CoapCode.Forbidden, "$-topics belong to the broker");
        }

        // A CON request is a reliable one: QoS 1 unless asked otherwise; a NON one QoS 0.
        var qos = request.Type == CoapType.Confirmable ? QoS.AtLeastOnce : QoS.AtMostOnce;
        if (context.Query.TryGetValue("qos", out var qosText))
        {
            if (qosText is not ("0" or "1" or "2"))
            {
                return Error(request, CoapCode.BadRequest, "qos must be 0, 1 or 2");
            }

            qos = (QoS)(qosText[0] - '0');
        }

        // PUT sets the resource's latest value, so it retains by default; POST does not.
        var retain = request.Code == CoapCode.Put;
        if (context.Query.TryGetValue("retain", out var retainText))
        {
            if (!TryParseFlag(retainText, out retain))
            {
                return Error(request, CoapCode.BadRequest, "retain must be true or false");
            }
        }

        MessageProperties? properties = null;
        if (request.GetUInt(CoapOptionNumber.ContentFormat) is { } cf)
        {
            if (ContentFormats.ToMediaType(cf) is not { } mediaType)
            {
                return Error(request, CoapCode.UnsupportedContentFormat, $"content-format {cf} unknown");
            }

            properties = new MessageProperties { ContentType = mediaType, PayloadIsUtf8 = cf is ContentFormats.TextPlain or ContentFormats.Json ? true : null };
        }

        var current = _broker.Retained.Get(topic);
        if (Precondition(request, current) is { } failed)
        {
            return failed;
        }

        var body = ReceiveBody(context, out var blockResponse);
        if (blockResponse is not null)
        {
            return blockResponse;
        }

        // Counted once per complete message, not per Block1 block (RFC 7959): the limit is on publishes.
        if (_limiter is not null && !_limiter.AllowsPublishFromPeer("coap", context.Remote, out var retryAfter))
        {
            // RFC 8516 §3: 4.29 Too Many Requests, Max-Age = seconds until a retry may succeed.
            var tooMany = Error(request, CoapCode.TooManyRequests, "publish rate too high (Limits:MaxPublishesPerSecond)");
            tooMany.AddUInt(CoapOptionNumber.MaxAge, (uint)retryAfter);
            return tooMany;
        }

        try
        {
            await _broker.PublishAsync(new Message(topic, body, qos, retain, properties, context.ClientId));
        }
        catch (Exception ex)
        {
            // The store could not make it durable (disk full, read-only data folder): 5.03 (RFC 7252
            // §5.9.3.4) instead of a 2.0x acknowledging a message a crash would lose.
            CoapLog.PublishNotStored(_logger, ex, context.Remote, request.ToString());
            return Error(request, CoapCode.ServiceUnavailable, "could not store the message");
        }

        // §5.8.3: PUT answers 2.01 when it created the resource, 2.04 when it changed it.
        var code = request.Code == CoapCode.Put && retain && current is null && !body.IsEmpty ? CoapCode.Created : CoapCode.Changed;
        var response = CoapMessage.ResponseTo(request, code);
        if (request.GetUInt(CoapOptionNumber.Block1) is { } block1 && BlockOption.TryDecode(block1, out var b))
        {
            // RFC 7959 §2.3: the final response echoes the last Block1 block.
            response.AddUInt(CoapOptionNumber.Block1, (b with { More = false, SizeExponent = Math.Min(b.SizeExponent, PreferredExponent) }).Encode());
        }

        return response;
    }

    /// <summary>If-Match (§5.10.8.1) and If-None-Match (§5.10.8.2) against the retained value; 4.12 when they fail.</summary>
    private static CoapMessage? Precondition(CoapMessage request, Message? current)
    {
        if (request.Has(CoapOptionNumber.IfNoneMatch) && current is not null)
        {
            return Error(request, CoapCode.PreconditionFailed, "a value exists");
        }

        var ifMatch = request.All(CoapOptionNumber.IfMatch).ToList();
        if (ifMatch.Count == 0)
        {
            return null;
        }

        if (current is null)
        {
            return Error(request, CoapCode.PreconditionFailed, "no value");
        }

        var etag = ETagOf(current);
        return ifMatch.Any(o => o.Value.IsEmpty || o.Value.Span.SequenceEqual(etag))
            ? null
            : Error(request, CoapCode.PreconditionFailed, "value changed");
    }

    private static bool TryParseFlag(string text, out bool value)
    {
        switch (text.ToUpperInvariant())
        {
            case "TRUE" or "1":
                value = true;
                return true;
            case "FALSE" or "0":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    /// <summary>
    /// An entity tag (§5.10.6) for a retained value: FNV-1a over topic and payload, so the same
    /// value has the same tag however often it is republished.
    /// </summary>
    internal static byte[] ETagOf(Message message)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in message.Topic)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        foreach (var b in message.Payload.Span)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        var etag = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(etag, hash);
        return etag;
    }
}
