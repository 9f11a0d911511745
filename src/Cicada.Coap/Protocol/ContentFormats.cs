namespace Cicada.Coap.Protocol;

/// <summary>
/// CoAP Content-Format numbers (RFC 7252 §12.3 and the IANA "CoAP Content-Formats" registry) and
/// the media types Core keeps in <see cref="Core.MessageProperties.ContentType"/>, so a value put
/// over CoAP reads back with its type over MQTT 5 and HTTP, and the other way round.
/// </summary>
public static class ContentFormats
{
    public const ushort TextPlain = 0;
    public const ushort LinkFormat = 40;
    public const ushort OctetStream = 42;
    public const ushort Json = 50;
    public const ushort Cbor = 60;

    private static readonly (ushort Number, string MediaType)[] Known =
    [
        (0, "text/plain;charset=utf-8"),
        (16, "application/cose;cose-type=\"cose-encrypt0\""),
        (17, "application/cose;cose-type=\"cose-mac0\""),
        (18, "application/cose;cose-type=\"cose-sign1\""),
        (40, "application/link-format"),
        (41, "application/xml"),
        (42, "application/octet-stream"),
        (47, "application/exi"),
        (50, "application/json"),
        (51, "application/json-patch+json"),
        (52, "application/merge-patch+json"),
        (60, "application/cbor"),
        (61, "application/cwt"),
        (62, "application/multipart-core"),
        (63, "application/cbor-seq"),
        (110, "application/senml+json"),
        (111, "application/sensml+json"),
        (112, "application/senml+cbor"),
        (113, "application/sensml+cbor"),
        (256, "application/coap-group+json"),
        (320, "application/senml+xml"),
        (321, "application/sensml+xml"),
        (11050, "application/json-seq"),
        (11542, "application/vnd.oma.lwm2m+tlv"),
        (11543, "application/vnd.oma.lwm2m+json"),
        (11544, "application/vnd.oma.lwm2m+cbor"),
    ];

    public static string? ToMediaType(uint number)
    {
        foreach (var (n, type) in Known)
        {
            if (n == number)
            {
                return type;
            }
        }

        return null;
    }

    /// <summary>
    /// The number for a media type, ignoring case and blanks around parameters; plain
    /// <c>text/plain</c> maps to 0 (UTF-8 text) as HTTP clients usually mean it.
    /// </summary>
    public static ushort? FromMediaType(string? mediaType)
    {
        if (string.IsNullOrWhiteSpace(mediaType))
        {
            return null;
        }

        var normalized = string.Concat(mediaType.Where(c => !char.IsWhiteSpace(c))).ToLowerInvariant();
        foreach (var (n, type) in Known)
        {
            if (type == normalized)
            {
                return n;
            }
        }

        var bare = normalized.Split(';')[0];
        if (bare == "text/plain")
        {
            return TextPlain;
        }

        foreach (var (n, type) in Known)
        {
            if (type == bare)
            {
                return n;
            }
        }

        return null;
    }
}
