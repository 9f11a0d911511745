using System.Text;

namespace Cicada.Fuzz.Tests.Http;

/// <summary>What a generated request aims at, so the oracle knows which answers are legitimate.</summary>
public enum HttpTarget
{
    Publish,
    GetRetained,
    Clear,
    DeviceCreate,
    DeviceGet,
    DeviceReplace,
    DevicePatch,
    DeviceDelete,
    DeviceList,
    DeviceState,
    DeviceCommand,
    Gateway,
    AclExplain,
    Stream,
    WebSocket,
    Other,
}

/// <summary>A request to send: its bytes plus what the oracle needs to judge the answer.</summary>
public sealed record HttpFuzzRequest(HttpTarget Target, string Method, string RequestTarget, byte[] Bytes)
{
    /// <summary>The raw path after <c>/api/v1/topics/</c> (percent-encoded, as sent), for topic requests.</summary>
    public string? TopicPath { get; init; }

    /// <summary>An event stream or WebSocket upgrade: read the head only.</summary>
    public bool HeadOnly => Target is HttpTarget.Stream or HttpTarget.WebSocket;

    public bool HasWait { get; init; }

    public override string ToString()
    {
        var text = Encoding.Latin1.GetString(Bytes);
        return text.Length > 1500 ? text[..1500] + $"… ({Bytes.Length} bytes)" : text;
    }
}

/// <summary>
/// Builds well-framed HTTP/1.1 requests (RFC 9112 §3, §5, §6: a valid request line, header fields
/// and Content-Length) whose *contents* are hostile: the inputs the HTTP edge itself parses — topic
/// paths (percent-encoding per RFC 3986 §2.1, invalid UTF-8, <c>+</c>/<c>#</c>, <c>$</c> topics, empty
/// and dot levels, overlong), query parameters, content types, device JSON (RFC 8259: wrong types,
/// huge numbers, deep nesting, invalid UTF-8, truncation), ACL explain parameters, Last-Event-ID,
/// Authorization, and WebSocket handshakes. Seeded from the requests real clients send (curl,
/// EventSource, MQTT.js, the registry's documented bodies) and mutated from there. Deterministic
/// for a given <see cref="Random"/>.
/// </summary>
public sealed class HttpRequestGenerator(Random random)
{
    private static readonly string[] Words = ["home", "kitchen", "temp", "a", "b", "private", "alice", "clients", "devices", "x1", "sensor-1", "%C3%A9tat"];

    // Levels as they would appear in the URL: plain, reserved, encoded, broken encodings.
    private static readonly string[] Levels =
    [
        "", "+", "%2B", "%23", "$SYS", "%24SYS", "%2F", "a%2Fb", "%25", "%25%32%46", "%FF", "%C3%A9", "%C3", "%E2%82", "%ED%A0%80",
        "%F4%90%80%80", "%C0%AF", "%00", "%01", "%7F", "%", "%G1", "%2", ".", "..", "%2E", "%2E%2E", "!$&'()*,;=:@", "~-._", "%20", "+%2B",
        "%EF%BF%BF", "%F0%9F%90%9B",
    ];

    private static readonly string[] QueryNames =
        ["qos", "retain", "wait", "page", "page_size", "online", "device_type", "controller_gateway", "filter", "retained", "last_event_id", "user", "client", "topic", "action", "x"];

    private static readonly string[] QueryValues =
    [
        "0", "1", "2", "3", "-1", "true", "false", "TRUE", "yes", "no", "", "%FF", "%00", "99999999999999999999", "2147483647", "2147483648", "1e5",
        "%201", "0x1", "a/%2B/%23", "%23", "a/+", "a/%23/b", "%24SYS/%23", "read", "write", "publish", "subscribe", "alice", "%C3%A9", "5s", "500ms",
        "0s", "-5s", "1h", "NaN", "Infinity", "%E2%82", "null",
    ];

    private static readonly string[] ContentTypes =
    [
        "application/json", "application/json; charset=utf-8", "application/json; charset=utf-16", "text/plain", "application/octet-stream",
        "application/merge-patch+json", "", "garbage", ";;;", "application/json;", "text/plain; charset=\"\"", "*/*", "application/json; a=\"\\",
        "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
    ];

    private static readonly string[] JsonScalars =
    [
        "\"x\"", "\"\"", "1", "-0", "1e999999", "-1e999999", "123456789012345678901234567890", "1.5e-400", "true", "false", "null", "[]", "{}",
        "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\\ud800\"", "\"a/b\"", "\"a/+/#\"", "\"$SYS/x\"", "\"%2F\"", "\"\\\"\"", "\"é\"", "\"\\/\"",
    ];

    public HttpFuzzRequest Next()
    {
        var target = (HttpTarget)random.Next((int)HttpTarget.Other + 1);
        return target switch
        {
            HttpTarget.Publish => TopicRequest(target, Pick("POST", "PUT")),
            HttpTarget.GetRetained => TopicRequest(target, "GET"),
            HttpTarget.Clear => TopicRequest(target, "DELETE"),
            HttpTarget.DeviceCreate => Build(target, "POST", "/api/v1/devices" + Pick("", "/") + Query(), JsonHeaders(), DeviceBody(identifier: null)),
            HttpTarget.DeviceGet => Build(target, "GET", "/api/v1/devices/" + Identifier() + Query(), [], []),
            HttpTarget.DeviceReplace => DeviceUpdate(target, "PUT"),
            HttpTarget.DevicePatch => DeviceUpdate(target, "PATCH"),
            HttpTarget.DeviceDelete => Build(target, "DELETE", "/api/v1/devices/" + Identifier(), [], []),
            HttpTarget.DeviceList => Build(target, "GET", "/api/v1/devices" + Query(force: true), [], []),
            HttpTarget.DeviceState => Build(target, "GET", $"/api/v1/devices/{Identifier()}/state",
                random.Next(2) == 0 ? [] : [("If-None-Match", Pick("*", "\"x\"", "W/\"x\", \"y\"", "", ",,,", "W/"))], []),
            HttpTarget.DeviceCommand => Command(),
            HttpTarget.Gateway => Build(target, "GET", $"/api/v1/gateways/{Identifier()}/devices", [], []),
            HttpTarget.AclExplain => Build(target, "GET", "/api/v1/acl/explain" + Query(force: true, names: ["user", "client", "topic", "action"]), Auth(), []),
            HttpTarget.Stream => Build(target, "GET", "/api/v1/stream" + Query(names: ["filter", "retained", "last_event_id"]),
                random.Next(2) == 0 ? [("Last-Event-ID", LastEventId())] : [], []),
            HttpTarget.WebSocket => WebSocket(),
            _ => Build(target, Pick("GET", "POST", "PATCH", "OPTIONS", "HEAD", "PROPFIND", "DELETE"),
                Pick("/", "/nope", "/api/v1/nope", "/api/v1/topics", "/api/v1/", "/healthz", "/metrics", "/api/v1/acl/explain/x", "/openapi/v1.json", "/dashboard")
                + Query(), Auth(), Payload()),
        };
    }

    private HttpFuzzRequest TopicRequest(HttpTarget target, string method)
    {
        var path = TopicPath();
        var headers = new List<(string, string)>();
        if (random.Next(2) == 0)
        {
            headers.Add(("Content-Type", Pick(ContentTypes)));
        }

        headers.AddRange(Auth());
        var body = method is "POST" or "PUT" ? Payload() : [];
        var query = method is "POST" or "PUT" ? Query(names: ["qos", "retain", "x"]) : Query();
        return Build(target, method, "/api/v1/topics/" + path + query, headers, body) with { TopicPath = path };
    }

    /// <summary>A topic path of 0–6 levels, each plain, reserved or (badly) percent-encoded; now and then an overlong one.</summary>
    public string TopicPath()
    {
        var count = random.Next(7) == 0 ? 0 : random.Next(1, 7);
        var levels = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            levels.Add(random.Next(3) switch
            {
                0 => Pick(Levels),
                1 => Pick(Words),
                _ => Encode(RandomBytes(random.Next(1, 6))),
            });
        }

        if (random.Next(50) == 0)
        {
            // Longer than a request line Kestrel accepts (8 KiB) or close below it.
            levels.Add(new string('l', Pick(100, 4000, 7000, 9000)));
        }

        return string.Join('/', levels);
    }

    private string Identifier() => random.Next(4) switch
    {
        0 => Pick("x1", "sensor-1", "gw-1"),
        1 => Pick(Levels),
        2 => Encode(RandomBytes(random.Next(1, 8))),
        _ => Pick(Words) + Pick("", "%2Fb", "%20", "%C3%A9", "%FF"),
    };

    private HttpFuzzRequest DeviceUpdate(HttpTarget target, string method) =>
        Build(target, method, "/api/v1/devices/" + Identifier(), JsonHeaders(), DeviceBody(Pick(null, "x1", "sensor-1", "other")));

    private HttpFuzzRequest Command()
    {
        var hasWait = random.Next(4) == 0;
        var query = hasWait ? "?wait=" + Pick("0s", "1ms", "x", "-1s", "99999s", "100ms") : Query();
        return Build(HttpTarget.DeviceCommand, "POST", $"/api/v1/devices/{Identifier()}/commands/{Pick(Levels.Concat(Words).ToArray())}" + query,
            [("Content-Type", Pick(ContentTypes))], Payload()) with
        { HasWait = hasWait };
    }

    private HttpFuzzRequest WebSocket()
    {
        var headers = new List<(string, string)>();
        if (random.Next(5) != 0)
        {
            headers.Add(("Connection", Pick("Upgrade", "upgrade, keep-alive", "keep-alive", "")));
        }

        if (random.Next(5) != 0)
        {
            headers.Add(("Upgrade", Pick("websocket", "WebSocket", "h2c", "")));
        }

        if (random.Next(5) != 0)
        {
            headers.Add(("Sec-WebSocket-Version", Pick("13", "12", "", "99999999999", "8, 13")));
        }

        if (random.Next(5) != 0)
        {
            headers.Add(("Sec-WebSocket-Key", Pick("dGhlIHNhbXBsZSBub25jZQ==", "short", "", "!!!!!!!!!!!!!!!!!!!!!!==", Convert.ToBase64String(RandomBytes(16)))));
        }

        if (random.Next(5) != 0)
        {
            headers.Add(("Sec-WebSocket-Protocol", Pick("mqtt", "mqttv3.1", "MQTT", "mqtt, mqttv3.1", "foo", "", ",,,", "mqtt,", " mqtt ", "mqttv5")));
        }

        return Build(HttpTarget.WebSocket, Pick("GET", "GET", "POST"), "/mqtt" + Query(), headers, []);
    }

    private List<(string, string)> JsonHeaders() =>
        random.Next(4) == 0 ? [("Content-Type", Pick(ContentTypes))] : [("Content-Type", "application/json")];

    private List<(string, string)> Auth() => random.Next(6) switch
    {
        0 => [("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(Pick("alice:secret", "alice", ":", "a:b:c", ""))))],
        1 => [("Authorization", Pick("Basic", "Basic !!!", "Bearer x", "Basic " + Convert.ToBase64String(RandomBytes(12)), "basic   "))],
        _ => [],
    };

    private string LastEventId() => random.Next(3) switch
    {
        0 => Pick("", "0", "-1", "x.1", "1.2.3", ".", "99999999999999999999.99999999999999999999", "abc.-1", "abc.9223372036854775807"),
        1 => Convert.ToHexString(RandomBytes(4)).ToLowerInvariant() + "." + random.Next(),
        _ => Encoding.Latin1.GetString(RandomBytes(random.Next(1, 20)).Select(b => (byte)(0x21 + b % 0x5E)).ToArray()),
    };

    private string Query(bool force = false, string[]? names = null)
    {
        if (!force && random.Next(3) == 0)
        {
            return string.Empty;
        }

        var count = random.Next(force ? 1 : 0, 5);
        var parts = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var name = Pick(names ?? QueryNames);
            parts.Add(random.Next(10) switch
            {
                0 => name,
                1 => name + "=" + Encode(RandomBytes(random.Next(1, 8))),
                2 => name + "=" + TopicPath(),
                _ => name + "=" + Pick(QueryValues),
            });
        }

        return "?" + string.Join(Pick("&", "&", "&&", ";"), parts);
    }

    private byte[] Payload() => random.Next(4) switch
    {
        0 => [],
        1 => RandomBytes(random.Next(1, 64)),
        2 => Encoding.UTF8.GetBytes(Pick("on", "21.5", "{\"state\":\"ON\"}", "é")),
        _ => new byte[Pick(1, 100, HttpFuzzBroker.MaxBodySize, HttpFuzzBroker.MaxBodySize + 1, 40_000)],
    };

    /// <summary>A device body (RFC 8259): the documented fields with values of any type, extras, nesting, then byte-level damage.</summary>
    private byte[] DeviceBody(string? identifier)
    {
        if (random.Next(15) == 0)
        {
            return random.Next(2) == 0 ? RandomBytes(random.Next(0, 40)) : Encoding.UTF8.GetBytes(new string('[', 5000) + new string(']', 5000));
        }

        var members = new List<string>();
        string[] fields = ["identifier", "name", "device_type", "controller_gateway", "topic", "state_topic", "command_topic", "availability_topic", "extra", "identifier"];
        foreach (var field in fields)
        {
            if (random.Next(4) == 0)
            {
                continue;
            }

            var value = random.Next(3) switch
            {
                0 when field == "identifier" && identifier is not null => "\"" + identifier + "\"",
                0 => "\"" + Pick(Words) + Pick("", "/x", "/+", "/#", "\\u0000") + "\"",
                1 => Pick(JsonScalars),
                _ => Nested(random.Next(1, random.Next(8) == 0 ? 80 : 6)),
            };
            members.Add($"\"{field}\":{value}");
        }

        var bytes = Encoding.UTF8.GetBytes("{" + string.Join(",", members) + "}");
        if (random.Next(5) == 0)
        {
            bytes = Damage(bytes);
        }

        return bytes;
    }

    private string Nested(int depth)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < depth; i++)
        {
            builder.Append(random.Next(2) == 0 ? "[" : "{\"k\":");
        }

        builder.Append(Pick(JsonScalars));
        var closers = builder.ToString().Where(c => c is '[' or '{').Reverse().Select(c => c == '[' ? ']' : '}');
        return builder.Append(string.Concat(closers)).ToString();
    }

    private byte[] Damage(byte[] bytes)
    {
        var data = bytes.ToList();
        switch (random.Next(4))
        {
            case 0 when data.Count > 0: // one octet gone
                data.RemoveAt(random.Next(data.Count));
                break;
            case 1 when data.Count > 0: // an octet that is not UTF-8 (RFC 8259 §8.1) or breaks a string
                data[random.Next(data.Count)] = Pick<byte>(0xFF, 0xC0, 0x80, 0xED, 0x00, 0x22, 0x5C);
                break;
            case 2: // truncated
                data.RemoveRange(data.Count / 2, data.Count - data.Count / 2);
                break;
            default:
                data.InsertRange(data.Count == 0 ? 0 : random.Next(data.Count), RandomBytes(random.Next(1, 6)));
                break;
        }

        return [.. data];
    }

    private HttpFuzzRequest Build(HttpTarget target, string method, string requestTarget, IEnumerable<(string Name, string Value)> headers, byte[] body)
    {
        var head = new StringBuilder();
        head.Append(method).Append(' ').Append(requestTarget).Append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        foreach (var (name, value) in headers)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        if (body.Length > 0 || method is "POST" or "PUT" or "PATCH")
        {
            head.Append("Content-Length: ").Append(body.Length).Append("\r\n");
        }

        head.Append("\r\n");
        return new HttpFuzzRequest(target, method, requestTarget, [.. Encoding.UTF8.GetBytes(head.ToString()), .. body]);
    }

    /// <summary>RFC 3986 §2.1: every octet percent-encoded, upper-case hex.</summary>
    private static string Encode(byte[] bytes) => string.Concat(bytes.Select(b => "%" + b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));

    private byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    private T Pick<T>(params T[] items) => items[random.Next(items.Length)];
}
