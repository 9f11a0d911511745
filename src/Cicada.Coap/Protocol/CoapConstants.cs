namespace Cicada.Coap.Protocol;

/// <summary>Message types (RFC 7252 §3, §4.2, §4.3).</summary>
public enum CoapType : byte
{
    Confirmable = 0,
    NonConfirmable = 1,
    Acknowledgement = 2,
    Reset = 3,
}

/// <summary>
/// A code as its single byte <c>c.dd</c> (class in the top 3 bits, detail in the low 5; RFC 7252
/// §3, §12.1): 0.00 is the empty message, 0.xx requests, 2.xx–5.xx responses.
/// </summary>
public static class CoapCode
{
    public const byte Empty = 0x00;
    public const byte Get = 0x01;
    public const byte Post = 0x02;
    public const byte Put = 0x03;
    public const byte Delete = 0x04;

    public const byte Created = 0x41;          // 2.01
    public const byte Deleted = 0x42;          // 2.02
    public const byte Valid = 0x43;            // 2.03
    public const byte Changed = 0x44;          // 2.04
    public const byte Content = 0x45;          // 2.05
    public const byte Continue = 0x5F;         // 2.31 (RFC 7959 §2.9.1)
    public const byte BadRequest = 0x80;       // 4.00
    public const byte Unauthorized = 0x81;     // 4.01
    public const byte BadOption = 0x82;        // 4.02
    public const byte Forbidden = 0x83;        // 4.03
    public const byte NotFound = 0x84;         // 4.04
    public const byte MethodNotAllowed = 0x85; // 4.05
    public const byte NotAcceptable = 0x86;    // 4.06
    public const byte RequestEntityIncomplete = 0x88; // 4.08 (RFC 7959 §2.9.2)
    public const byte PreconditionFailed = 0x8C;      // 4.12
    public const byte RequestEntityTooLarge = 0x8D;   // 4.13
    public const byte UnsupportedContentFormat = 0x8F; // 4.15
    public const byte TooManyRequests = 0x9D;          // 4.29 (RFC 8516)
    public const byte InternalServerError = 0xA0;      // 5.00
    public const byte ServiceUnavailable = 0xA3;       // 5.03
    public const byte ProxyingNotSupported = 0xA5;     // 5.05

    public static byte Make(int codeClass, int detail) => (byte)(codeClass << 5 | detail);

    public static int Class(byte code) => code >> 5;

    public static bool IsRequest(byte code) => code is > 0 and < 0x20;

    /// <summary>"2.05", as RFC 7252 writes codes.</summary>
    public static string Format(byte code) => $"{Class(code)}.{code & 0x1F:D2}";
}

/// <summary>Option numbers this edge knows (RFC 7252 §5.10, RFC 7641 §2, RFC 7959 §2.1, §4).</summary>
public static class CoapOptionNumber
{
    public const ushort IfMatch = 1;
    public const ushort UriHost = 3;
    public const ushort ETag = 4;
    public const ushort IfNoneMatch = 5;
    public const ushort Observe = 6;
    public const ushort UriPort = 7;
    public const ushort LocationPath = 8;
    public const ushort UriPath = 11;
    public const ushort ContentFormat = 12;
    public const ushort MaxAge = 14;
    public const ushort UriQuery = 15;
    public const ushort Accept = 17;
    public const ushort LocationQuery = 20;
    public const ushort Block2 = 23;
    public const ushort Block1 = 27;
    public const ushort Size2 = 28;
    public const ushort ProxyUri = 35;
    public const ushort ProxyScheme = 39;
    public const ushort Size1 = 60;

    /// <summary>RFC 7252 §5.4.6: odd numbers are critical — a recipient must understand them.</summary>
    public static bool IsCritical(int number) => (number & 1) != 0;

    /// <summary>
    /// Length limits and repeatability of the options this edge understands (RFC 7252 §5.10 table 4,
    /// RFC 7641 §2, RFC 7959 §2.1/§4); null for an unrecognised option.
    /// </summary>
    public static (int Min, int Max, bool Repeatable)? Format(int number) => number switch
    {
        IfMatch => (0, 8, true),
        UriHost => (1, 255, false),
        ETag => (1, 8, true),
        IfNoneMatch => (0, 0, false),
        Observe => (0, 3, false),
        UriPort => (0, 2, false),
        LocationPath => (0, 255, true),
        UriPath => (0, 255, true),
        ContentFormat => (0, 2, false),
        MaxAge => (0, 4, false),
        UriQuery => (0, 255, true),
        Accept => (0, 2, false),
        LocationQuery => (0, 255, true),
        Block2 => (0, 3, false),
        Block1 => (0, 3, false),
        Size2 => (0, 4, false),
        ProxyUri => (1, 1034, false),
        ProxyScheme => (1, 255, false),
        Size1 => (0, 4, false),
        _ => null,
    };
}

/// <summary>Transmission parameters (RFC 7252 §4.8, §4.8.2).</summary>
public static class CoapTransmission
{
    public static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(2);
    public const double AckRandomFactor = 1.5;
    public const int MaxRetransmit = 4;

    /// <summary>EXCHANGE_LIFETIME = MAX_TRANSMIT_SPAN + 2 × MAX_LATENCY + PROCESSING_DELAY = 247 s.</summary>
    public static readonly TimeSpan ExchangeLifetime = TimeSpan.FromSeconds(247);

    /// <summary>NON_LIFETIME = MAX_TRANSMIT_SPAN + MAX_LATENCY = 145 s.</summary>
    public static readonly TimeSpan NonLifetime = TimeSpan.FromSeconds(145);
}
