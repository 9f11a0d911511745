using System.Net;

namespace Cicada.Coap;

/// <summary>CoAP edge settings (configuration section <c>Coap</c>).</summary>
public sealed class CoapOptions
{
    public const string Section = "Coap";

    /// <summary><c>HOST:PORT</c> or <c>off</c>; the host turns it into <see cref="EndPoint"/>.</summary>
    public string Listen { get; set; } = "0.0.0.0:5683";

    /// <summary>Where the UDP socket binds; set by the host from <see cref="Listen"/> (port 0 = any free port, for tests).</summary>
    /// <remarks>A field, not a property, so configuration binding leaves it alone: the binding source
    /// generator (which Native AOT publishing needs) cannot construct an <see cref="IPEndPoint"/>.</remarks>
    internal IPEndPoint? EndPoint;

    /// <summary>Bind IPv6 with IPv4-mapped addresses too (the host sets it for <c>*:PORT</c>).</summary>
    public bool DualMode { get; set; }

    /// <summary>Largest request body, whole or assembled from Block1 blocks (RFC 7959 §2.9.3: 4.13 above it).</summary>
    public int MaxBodySize { get; set; } = 1024 * 1024;

    /// <summary>
    /// Largest block this edge sends or asks for (RFC 7959 §2.2: 16…1024); 1024 keeps a message
    /// under the 1152-byte size RFC 7252 §4.6 recommends.
    /// </summary>
    public int BlockSize { get; set; } = 1024;

    /// <summary>
    /// A CON request whose response is not ready after this many milliseconds gets an empty ACK
    /// and a separate response later (RFC 7252 §5.2.2), before the client retransmits (ACK_TIMEOUT 2 s).
    /// </summary>
    public int SeparateResponseAfterMilliseconds { get; set; } = 1000;

    /// <summary>
    /// An observer that registered with NON still gets a CON notification at least this often, so
    /// a vanished observer is noticed and removed (RFC 7641 §4.5 asks for at least once a day).
    /// </summary>
    public int ConfirmableNotificationSeconds { get; set; } = 60;

    /// <summary>Observations held at once; a registration beyond it is answered as a plain GET without Observe (RFC 7641 §4.1).</summary>
    public int MaxObservations { get; set; } = 10_000;

    /// <summary>Exchanges remembered for deduplication at once; beyond it new requests get 5.03.</summary>
    public int MaxExchanges { get; set; } = 100_000;
}
