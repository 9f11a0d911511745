using System.Text;
using Cicada.Coap.Protocol;

namespace Cicada.Coap;

/// <summary>Resource discovery (RFC 6690): <c>/.well-known/core</c> in CoRE Link Format.</summary>
public sealed partial class CoapServer
{
    /// <summary>Resource type of the pub/sub collection and of each topic's data resource.</summary>
    public const string CollectionResourceType = "core.ps";
    public const string TopicResourceType = "core.ps.data";

    /// <summary>Called after <see cref="AuthenticateAsync"/>: the listing is filtered by the requester's read permission.</summary>
    private CoapMessage Discovery(RequestContext context)
    {
        var request = context.Request;
        var links = new List<Link> { new("/" + TopicPrefix, CollectionResourceType, ContentFormats.LinkFormat, false) };
        var now = _time.GetUtcNow();
        var identity = IdentityOf(context);
        foreach (var message in _broker.Retained.All())
        {
            // Only topics the requester may read are listed (as HTTP's /api/v1/retained): a name
            // alone can tell too much (home/alice/medication), and a GET of it would be 4.03 anyway.
            if (message.IsExpired(now) || message.Topic.StartsWith('$') || !_authorizer.CanSubscribe(identity, message.Topic))
            {
                continue;
            }

            var href = "/" + TopicPrefix + "/" + string.Join('/', message.Topic.Split('/').Select(Uri.EscapeDataString));
            links.Add(new Link(href, TopicResourceType, ContentFormats.FromMediaType(message.Properties?.ContentType), true));
        }

        links.Sort(static (a, b) => string.CompareOrdinal(a.Href, b.Href));
        var accept = request.GetUInt(CoapOptionNumber.Accept);
        if (accept is { } a && a != ContentFormats.LinkFormat)
        {
            return Error(request, CoapCode.NotAcceptable, "application/link-format only");
        }

        var body = Encoding.UTF8.GetBytes(string.Join(',', links.Where(l => Matches(l, context.Query)).Select(l => l.Format())));
        var response = CoapMessage.ResponseTo(request, CoapCode.Content);
        response.AddUInt(CoapOptionNumber.ContentFormat, ContentFormats.LinkFormat);
        var etag = FnvTag(body);
        response.Add(CoapOptionNumber.ETag, etag);
        return WithBody(context, response, body, etag);
    }

    private readonly record struct Link(string Href, string ResourceType, ushort? ContentFormat, bool Observable)
    {
        // RFC 6690 §2: </href>;rt="…";ct=…, plus "obs" for observable resources (RFC 7641 §6).
        public string Format() =>
            $"<{Href}>;rt=\"{ResourceType}\"" + (ContentFormat is { } ct ? $";ct={ct}" : string.Empty) + (Observable ? ";obs" : string.Empty);

        /// <summary>The link's values of <paramref name="attribute"/>: none when it has no such attribute, "" for a flag.</summary>
        public IEnumerable<string> Values(string attribute) => attribute switch
        {
            // RFC 6690 §3.1/§3.2: rt (and if) are space-separated lists; each value is matched on its own.
            "rt" => ResourceType.Split(' ', StringSplitOptions.RemoveEmptyEntries),
            "ct" when ContentFormat is { } ct => [ct.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            "obs" when Observable => [string.Empty],
            _ => [],
        };
    }

    /// <summary>Query parameters that are our credentials and client id, never link filters.</summary>
    private static bool IsCredential(string key) => key is "c" or "u" or "p";

    /// <summary>
    /// RFC 6690 §4.1: a query parameter filters the listing on the link attribute of that name
    /// (<c>href</c> on the target); a value ending in '*' matches by prefix; a link without the
    /// attribute does not match (so <c>?if=…</c> lists nothing: our links carry no interface
    /// description), and a flag such as <c>obs</c> matches by its presence. Several parameters
    /// must all match. Our own <c>c</c>/<c>u</c>/<c>p</c> are credentials, not filters.
    /// </summary>
    private static bool Matches(Link link, Dictionary<string, string> query)
    {
        foreach (var (key, value) in query)
        {
            if (IsCredential(key))
            {
                continue;
            }

            var candidates = key == "href" ? [link.Href] : link.Values(key);
            var matched = false;
            foreach (var candidate in candidates)
            {
                matched = value.EndsWith('*')
                    ? candidate.StartsWith(value[..^1], StringComparison.Ordinal)
                    : candidate == value || (value.Length == 0 && key != "href");
                if (matched)
                {
                    break;
                }
            }

            if (!matched)
            {
                return false;
            }
        }

        return true;
    }

    private static byte[] FnvTag(ReadOnlySpan<byte> bytes)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        var tag = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(tag, hash);
        return tag;
    }
}
