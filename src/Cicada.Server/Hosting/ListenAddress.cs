using System.Globalization;
using System.Net;

namespace Cicada.Server.Hosting;

public enum ListenHostKind
{
    /// <summary>The listener is disabled (<c>off</c>).</summary>
    Off,

    /// <summary>A literal IPv4 or IPv6 address (<c>0.0.0.0</c> is IPv4-only, <c>[::]</c> dual-stack where the OS allows).</summary>
    Address,

    /// <summary><c>localhost</c>: the IPv4 and IPv6 loopback addresses.</summary>
    Localhost,

    /// <summary><c>*</c>: every interface, IPv6 and IPv4.</summary>
    Any,
}

/// <summary>
/// A listener setting: <c>HOST:PORT</c> or <c>off</c>, where HOST is an IPv4 address, a bracketed
/// IPv6 address (<c>[::1]:1883</c>), <c>localhost</c>, <c>*</c> or <c>0.0.0.0</c>. Host names other
/// than localhost are refused: a broker binds interfaces, and a name that resolves to several
/// addresses (or changes) would bind something the operator did not ask for.
/// </summary>
public sealed record ListenAddress(ListenHostKind Kind, IPAddress? Address, int Port)
{
    public static ListenAddress Off { get; } = new(ListenHostKind.Off, null, 0);

    public bool IsOff => Kind == ListenHostKind.Off;

    public static ListenAddress Parse(string value) =>
        TryParse(value, out var address, out var error) ? address : throw new FormatException(error);

    public static bool TryParse(string? value, out ListenAddress address, out string error)
    {
        address = Off;
        error = string.Empty;
        var text = value?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            error = "expected HOST:PORT or off, got an empty value";
            return false;
        }
        if (text.Equals("off", StringComparison.OrdinalIgnoreCase))
            return true;

        var colon = text.LastIndexOf(':');
        if (colon <= 0)
        {
            error = $"'{text}' is not HOST:PORT or off (examples: 0.0.0.0:1883, [::1]:1883, localhost:1883, *:1883)";
            return false;
        }
        var host = text[..colon];
        var portText = text[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            error = $"'{text}': port '{portText}' is not a number from 1 to 65535";
            return false;
        }

        if (host == "*")
        {
            address = new ListenAddress(ListenHostKind.Any, null, port);
            return true;
        }
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = new ListenAddress(ListenHostKind.Localhost, null, port);
            return true;
        }
        if (host.StartsWith('['))
        {
            // RFC 3986 §3.2.2: an IPv6 literal in an authority is bracketed, which keeps its colons
            // apart from the port's.
            if (!host.EndsWith(']') || !IPAddress.TryParse(host[1..^1], out var v6)
                || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                error = $"'{text}': '{host}' is not a bracketed IPv6 address";
                return false;
            }
            address = new ListenAddress(ListenHostKind.Address, v6, port);
            return true;
        }
        if (host.Contains(':', StringComparison.Ordinal))
        {
            error = $"'{text}': an IPv6 address must be in brackets, as in [{host}]:{port}";
            return false;
        }
        if (!IsDottedQuad(host) || !IPAddress.TryParse(host, out var v4))
        {
            error = $"'{text}': host '{host}' is not an IPv4 address, [IPv6], localhost or *";
            return false;
        }
        address = new ListenAddress(ListenHostKind.Address, v4, port);
        return true;
    }

    public override string ToString() => Kind switch
    {
        ListenHostKind.Off => "off",
        ListenHostKind.Any => $"*:{Port}",
        ListenHostKind.Localhost => $"localhost:{Port}",
        _ => new IPEndPoint(Address!, Port).ToString(),
    };

    // IPAddress.TryParse also takes "1", "1.2" and "0x7f.1" (inet_aton forms); a listener
    // setting that looks like a typo should be refused, not silently bound somewhere odd.
    private static bool IsDottedQuad(string host)
    {
        var parts = host.Split('.');
        return parts.Length == 4 && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit));
    }
}
