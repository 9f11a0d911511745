using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Cicada.Http.Rest;

/// <summary>
/// Path values (a topic, a device identifier) read from the request target as the client sent it,
/// percent-decoded exactly once (RFC 3986 §2.1). Kestrel's decoded path cannot be used for them: it
/// leaves <c>%2F</c> and percent-encoded octets that are not UTF-8 encoded, so <c>a%2Fb</c> and
/// <c>a%252Fb</c> (or <c>%FF</c> and <c>%25FF</c>) would both arrive as the same text and name one
/// topic (found by the HTTP fuzz).
/// </summary>
internal static class RequestTarget
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>
    /// The value made of the path segments from <paramref name="first"/> on (all the rest with
    /// <paramref name="toEnd"/>, else that one segment), or a 400 problem naming <paramref name="field"/>.
    /// <paramref name="routeValue"/> is the answer when the raw target cannot be lined up with the
    /// route (an encoded prefix is fine; only an odd one such as <c>//api</c> falls back).
    /// </summary>
    public static (string? Value, IResult? Error) Value(HttpContext context, int first, bool toEnd, string field, string routeValue)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw))
        {
            return (routeValue, null);
        }

        if (raw[0] != '/')
        {
            // absolute-form (RFC 9112 §3.2.2): the path starts after scheme and authority.
            var scheme = raw.IndexOf("://", StringComparison.Ordinal);
            var path = scheme < 0 ? -1 : raw.IndexOf('/', scheme + 3);
            if (path < 0)
            {
                return (routeValue, null);
            }

            raw = raw[path..];
        }

        var end = raw.IndexOfAny(['?', '#']);
        var segments = (end < 0 ? raw : raw[..end]).Split('/');
        var decoded = new string[segments.Length - 1];
        for (var i = 1; i < segments.Length; i++)
        {
            if (!TryDecode(segments[i], out var text, out var error))
            {
                return (null, Problems.InvalidField(field, error));
            }

            // RFC 3986 §5.2.4: "." and ".." are removed from a path before it reaches a server
            // (Kestrel does it too), so such a level cannot be named in a URL; refused rather than
            // silently becoming another topic or device.
            if (text is "." or "..")
            {
                return (null, Problems.InvalidField(field, "must not contain a '.' or '..' segment: URLs drop dot segments (RFC 3986 §5.2.4)"));
            }

            decoded[i - 1] = text;
        }

        if (first >= decoded.Length || !PrefixMatches(context.Request.Path.Value ?? string.Empty, decoded, first))
        {
            return (routeValue, null);
        }

        return (toEnd ? string.Join('/', decoded.Skip(first)) : decoded[first], null);
    }

    private static bool PrefixMatches(string routed, string[] decoded, int first)
    {
        var routedSegments = routed.Split('/');
        for (var i = 0; i < first; i++)
        {
            if (i + 1 >= routedSegments.Length || !string.Equals(routedSegments[i + 1], decoded[i], StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }

        return true;
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    /// <summary>RFC 3986 §2.1 percent-decoding of one segment into UTF-8 text (§2.5), strictly.</summary>
    internal static bool TryDecode(string segment, out string text, out string error)
    {
        text = segment;
        error = string.Empty;
        if (!segment.Contains('%', StringComparison.Ordinal))
        {
            return true;
        }

        var bytes = new byte[Encoding.UTF8.GetByteCount(segment)];
        var count = 0;
        for (var i = 0; i < segment.Length; i++)
        {
            var c = segment[i];
            if (c == '%')
            {
                if (i + 2 >= segment.Length || !Uri.IsHexDigit(segment[i + 1]) || !Uri.IsHexDigit(segment[i + 2]))
                {
                    error = "has a '%' that is not followed by two hex digits (RFC 3986 §2.1)";
                    return false;
                }

                bytes[count++] = (byte)((HexValue(segment[i + 1]) << 4) | HexValue(segment[i + 2]));
                i += 2;
            }
            else
            {
                count += Encoding.UTF8.GetBytes(segment.AsSpan(i, 1), bytes.AsSpan(count));
            }
        }

        try
        {
            text = StrictUtf8.GetString(bytes, 0, count);
            return true;
        }
        catch (DecoderFallbackException)
        {
            error = "has percent-encoded octets that are not UTF-8 (RFC 3986 §2.5; MQTT-1.5.4-1)";
            return false;
        }
    }
}
