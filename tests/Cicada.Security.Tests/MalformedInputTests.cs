using System.Globalization;
using System.Net.Http;
using System.Text;
using Cicada.Security.Tests.Infrastructure;

namespace Cicada.Security.Tests;

/// <summary>One broker with MQTT, HTTP, CoAP and AMQP on, shared by the malformed-input suite.</summary>
public sealed class AllProtocolsBrokerFixture : IAsyncLifetime
{
    public SecureBroker Broker { get; private set; } = null!;

    public async Task InitializeAsync() => Broker = await SecureBroker.StartAsync(new SecureBrokerSettings { AllEdges = true });

    public async Task DisposeAsync() => await Broker.DisposeAsync();
}

/// <summary>
/// The raw-socket suite of malformed inputs, one table per protocol against one real broker with
/// all four protocols on. Each input must get the protocol's own error — MQTT CONNACK/DISCONNECT
/// code or close, CoAP RST / 4.00 / 4.02, AMQP connection.close with the reply code of AMQP 0-9-1
/// §1.4.2, HTTP 400/414/426/431 — one log line naming the peer (where the broker logs that kind of
/// input at all), no failure or stack trace in the log, and afterwards a client of every protocol is
/// still served: publishes over HTTP, CoAP, AMQP and MQTT all reach an MQTT subscriber, and the MQTT
/// one is read back over HTTP.
/// </summary>
public sealed class MalformedInputTests(AllProtocolsBrokerFixture fixture) : IClassFixture<AllProtocolsBrokerFixture>
{
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(1.5);
    private static readonly HttpClient Http = new() { Timeout = Timeouts.Packet };

    private SecureBroker Broker => fixture.Broker;

    // ---- MQTT ----

    public static TheoryData<string> MqttCases => [.. MqttInputs.Keys];

    private static byte[] Connect(MqttVersion version, string clientId, byte flags = 0x02) =>
        MqttPackets.Connect(new ConnectOptions { ClientId = clientId, Version = version, FlagsOverride = flags });

    /// <summary>An MQTT 5 CONNECT (§3.1): name, level 5, clean start, keep-alive 60, no properties.</summary>
    private static byte[] Connect5(string clientId)
    {
        byte[] body = [0, 4, .. "MQTT"u8, 5, 0x02, 0, 60, 0, 0, (byte)clientId.Length, .. Encoding.UTF8.GetBytes(clientId)];
        return MqttPackets.Frame(0x10, body);
    }

    /// <summary>Case → (bytes, what must come back before the close, whether a refusal line is logged).</summary>
    private static readonly Dictionary<string, (Func<byte[][]> Bytes, byte[] Answer)> MqttInputs = new()
    {
        // MQTT-2.2.3 (v3.1.1 §2.2.3): at most four remaining-length bytes; malformed → close, no CONNACK.
        ["MQTT-2.2.3 remaining length of five bytes"] = (() => [[0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]], []),
        // MQTT-3.1.2-3: the reserved CONNECT flag must be 0 → close.
        ["MQTT-3.1.2-3 reserved CONNECT flag set"] = (() => [Connect(MqttVersion.V311, "m-reserved", 0x03)], []),
        // MQTT-2.2.2-2: CONNECT's fixed-header flags are reserved (0) → close.
        ["MQTT-2.2.2-2 CONNECT with fixed-header flags 1"] = (() => [[0x11, .. Connect(MqttVersion.V311, "m-flags").AsSpan(1)]], []),
        // MQTT-3.1.0-1: the first packet must be CONNECT → close.
        ["MQTT-3.1.0-1 PUBLISH before CONNECT"] = (() => [MqttPackets.Publish("a", "x")], []),
        // MQTT-3.1.2-1: another protocol name → close (no CONNACK needed).
        ["MQTT-3.1.2-1 wrong protocol name"] = (() => [MqttPackets.Connect(new ConnectOptions { ClientId = "m-name", ProtocolName = "MQTX" })], []),
        // MQTT-3.1.2-2: an unsupported level → CONNACK 0x01 (unacceptable protocol version), then close.
        ["MQTT-3.1.2-2 protocol level 9"] = (() => [MqttPackets.Connect(new ConnectOptions { ClientId = "m-level", ProtocolLevel = 9 })], [0x20, 0x02, 0x00, 0x01]),
        // MQTT-1.5.3-1: a topic that is not UTF-8 → close (after the CONNACK of the valid CONNECT).
        ["MQTT-1.5.3-1 PUBLISH topic not UTF-8 (3.1.1)"] = (() => [Connect(MqttVersion.V311, "m-utf8"), MqttPackets.PublishRawTopic([0xC3, 0x28], "x"u8.ToArray())],
            [0x20, 0x02, 0x00, 0x00]),
        // MQTT-3.2.2-15 / v3.1.1 §2.2.3: a packet over Mqtt:MaxPacketSize → close.
        ["MQTT-3.2.2-15 oversize PUBLISH (3.1.1)"] = (() => [Connect(MqttVersion.V311, "m-big"), [0x30, 0xFF, 0xFF, 0xFF, 0x7F]], [0x20, 0x02, 0x00, 0x00]),
    };

    [Theory]
    [MemberData(nameof(MqttCases))]
    public async Task Mqtt_MalformedInput_GetsTheSpecsAnswerAndClose_AndEveryProtocolIsStillServed(string name)
    {
        var (bytes, answer) = MqttInputs[name];
        var exchange = await RawWire.TcpAsync(Broker.Port, bytes(), stepwise: true);

        Assert.True(exchange.Closed, $"{name}: the connection stayed open; got {Convert.ToHexString(exchange.Received)}");
        Assert.Equal(Convert.ToHexString(answer), Convert.ToHexString(exchange.Received));
        await AssertLoggedOnceAsync(exchange.Peer, name);
        await AssertEveryProtocolServedAsync();
    }

    /// <summary>MQTT 5 §1.5.4 / §4.13: a malformed packet after CONNECT is answered with DISCONNECT 0x81, an oversize one with 0x95 (§3.2.2.3.6).</summary>
    [Theory]
    [InlineData("topic not UTF-8", 0x81)]
    [InlineData("oversize", 0x95)]
    public async Task Mqtt5_MalformedInputAfterConnect_GetsDisconnectWithTheReasonCode(string name, int reason)
    {
        byte[] bad = name == "oversize" ? [0x30, 0xFF, 0xFF, 0xFF, 0x7F] : [0x30, 0x06, 0x00, 0x02, 0xC3, 0x28, 0x00, (byte)'x'];
        var exchange = await RawWire.TcpAsync(Broker.Port, [Connect5("m5-" + reason.ToString(CultureInfo.InvariantCulture)), bad], stepwise: true);

        Assert.True(exchange.Closed);
        var received = exchange.Received;
        Assert.Equal(0x20, received[0]); // CONNACK first (accepted)
        var disconnect = received.AsSpan(2 + received[1]).ToArray();
        Assert.True(disconnect.Length >= 3 && disconnect[0] == 0xE0, $"no DISCONNECT after the CONNACK: {Convert.ToHexString(received)}");
        Assert.Equal(reason, disconnect[2]);
        await AssertLoggedOnceAsync(exchange.Peer, name);
        await AssertEveryProtocolServedAsync();
    }

    // ---- AMQP 0-9-1 ----

    public static TheoryData<string> AmqpCases => [.. AmqpInputs.Keys];

    /// <summary>Case → (frames after the protocol header or instead of it, the reply code of connection.close).</summary>
    private static readonly Dictionary<string, (Func<byte[][]> Bytes, int Code)> AmqpInputs = new()
    {
        // §2.3.5.1 / §4.2.3: a frame not ending in frame-end 0xCE → 501 frame-error.
        ["501 frame-error: wrong frame-end octet"] = (() => [AmqpWire.ProtocolHeader, [8, 0, 0, 0, 0, 0, 0, 0x00]], 501),
        // §4.2.3: a frame over frame-max (4096 before tune-ok) → 501 frame-error.
        ["501 frame-error: frame over frame-max"] = (() => [AmqpWire.ProtocolHeader, [1, 0, 0, 0, 0x10, 0, 0]], 501),
        // §4.2.3 / §1.4.2: channel 0 carries connection methods only; basic.publish there → 503 command-invalid.
        ["503 command-invalid: basic.publish on channel 0"] = (() => [.. AmqpWire.Handshake(), .. AmqpWire.Publish(0, "a", "x"u8.ToArray())], 503),
        // §4.2.6 / §1.4.2: a content header with no basic.publish before it → 505 unexpected-frame.
        ["505 unexpected-frame: content header without a method"] = (() => [.. AmqpWire.Handshake(), AmqpWire.ChannelOpen(1), .. AmqpWire.Publish(1, "a", "x"u8.ToArray()).Skip(1)], 505),
        // §4.2.3: a method frame too short to hold class and method ids → 502 syntax-error... or frame-error; the spec's syntax-error is 502.
        ["502 syntax-error: connection.open with a truncated argument"] = (() => [.. AmqpWire.Handshake().Take(3), AmqpWire.Method(0, 10, 40, [200, (byte)'/'])], 502),
    };

    [Theory]
    [MemberData(nameof(AmqpCases))]
    public async Task Amqp_MalformedInput_GetsConnectionCloseWithTheReplyCode_AndEveryProtocolIsStillServed(string name)
    {
        var (bytes, code) = AmqpInputs[name];
        var exchange = await RawWire.TcpAsync(Broker.AmqpPort, bytes(), reply: AmqpWire.CloseOkWhenClosed);

        Assert.True(AmqpWire.CloseCode(exchange.Received) == code,
            $"{name}: expected connection.close {code}, got {AmqpWire.CloseCode(exchange.Received)?.ToString(CultureInfo.InvariantCulture) ?? "none"}: {exchange.Latin1}");
        Assert.True(exchange.Closed, $"{name}: the connection stayed open after close/close-ok");
        await AssertLoggedOnceAsync(exchange.Peer, name);
        await AssertEveryProtocolServedAsync();
    }

    /// <summary>AMQP 0-9-1 §4.2.2: a header of another protocol or version is answered with ours, then the socket closes.</summary>
    [Fact]
    public async Task Amqp_4_2_2_WrongProtocolHeader_IsAnsweredWithOursAndClosed()
    {
        var exchange = await RawWire.TcpAsync(Broker.AmqpPort, ["AMQP\0\0\u0009\u0002"u8.ToArray()]);

        Assert.True(exchange.Closed);
        Assert.Equal(Convert.ToHexString(AmqpWire.ProtocolHeader), Convert.ToHexString(exchange.Received));
        await AssertEveryProtocolServedAsync();
    }

    // ---- CoAP ----

    public static TheoryData<string> CoapCases => [.. CoapInputs.Keys];

    private static byte[] PsPath => [0xB2, (byte)'p', (byte)'s'];

    /// <summary>Case → (datagram with message id 0x4D31, expected answer: "RST" or a response code).</summary>
    private static readonly Dictionary<string, (byte[] Datagram, string Answer)> CoapInputs = new()
    {
        // RFC 7252 §3: token lengths 9–15 are reserved, "MUST be processed as a message format error" → RST (§4.2).
        ["RFC 7252 §3 token length 9"] = ([0x49, 0x01, 0x4D, 0x31, .. "123456789"u8], "RST"),
        ["RFC 7252 §3 token length 15"] = ([0x4F, 0x01, 0x4D, 0x31, .. "123456789012345"u8], "RST"),
        // §3.1: an option value running past the end of the datagram → format error → RST.
        ["RFC 7252 §3.1 truncated option"] = ([0x40, 0x01, 0x4D, 0x31, 0xBA, (byte)'p', (byte)'s'], "RST"),
        // §3.1: option delta 15 is reserved unless it is the payload marker 0xFF → format error → RST.
        ["RFC 7252 §3.1 option delta 15"] = ([0x40, 0x01, 0x4D, 0x31, 0xF0], "RST"),
        // §3: a payload marker followed by a zero-length payload → format error → RST.
        ["RFC 7252 §3 payload marker without payload"] = ([0x40, 0x02, 0x4D, 0x31, .. PsPath, 0xFF], "RST"),
        // §5.4.1: an unrecognized critical option (9) in a CON request → 4.02 Bad Option.
        ["RFC 7252 §5.4.1 unknown critical option"] = ([0x40, 0x01, 0x4D, 0x31, 0x92, (byte)'a', (byte)'b'], "4.02"),
        // §3.2: Uri-Path is a string, UTF-8; an invalid one → 4.00 Bad Request (it used to publish to a topic with U+FFFD).
        ["RFC 7252 §3.2 Uri-Path not UTF-8"] = ([0x40, 0x03, 0x4D, 0x31, .. PsPath, 0x02, 0xC3, 0x28, 0xFF, (byte)'x'], "4.00"),
    };

    [Theory]
    [MemberData(nameof(CoapCases))]
    public async Task Coap_MalformedInput_GetsRstOr4xx_AndEveryProtocolIsStillServed(string name)
    {
        var (datagram, expected) = CoapInputs[name];
        var (answer, peer) = await RawWire.UdpAsync(Broker.CoapPort, datagram, Timeouts.Packet);

        Assert.True(answer is not null, $"{name}: no answer");
        Assert.Equal(0x4D31, CoapWire.MessageId(answer)); // §4.2: RST and piggybacked ACK echo the message id
        Assert.Equal(expected, expected == "RST" ? CoapWire.Type(answer) == 3 ? "RST" : $"type {CoapWire.Type(answer)}" : CoapWire.Code(answer));
        if (expected == "RST")
        {
            await AssertLoggedOnceAsync(peer, name);
        }

        await AssertEveryProtocolServedAsync();
    }

    /// <summary>RFC 7252 §3: a message with an unknown version number MUST be silently ignored.</summary>
    [Fact]
    public async Task Coap_3_UnknownVersion_IsSilentlyIgnored()
    {
        var (answer, _) = await RawWire.UdpAsync(Broker.CoapPort, [0x80, 0x01, 0x4D, 0x32], Quiet);

        Assert.Null(answer);
        await AssertEveryProtocolServedAsync();
    }

    // ---- HTTP ----

    public static TheoryData<string> HttpCases => [.. HttpInputs.Keys];

    private static readonly Dictionary<string, (Func<byte[]> Bytes, int Status)> HttpInputs = new()
    {
        // RFC 9112 §3: a request line that is not method SP target SP version → 400.
        ["RFC 9112 §3 malformed request line"] = (() => "GARBAGE\r\n\r\n"u8.ToArray(), 400),
        // RFC 9112 §7.1: a chunk size that is not hex → 400.
        ["RFC 9112 §7.1 bad chunk size"] = (() => Encoding.ASCII.GetBytes(
            "POST /api/v1/topics/malformed/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n"), 400),
        // RFC 6585 §5: header fields too large → 431.
        ["RFC 6585 §5 huge header fields"] = (() => Encoding.ASCII.GetBytes(
            "GET /healthz HTTP/1.1\r\nHost: x\r\n" + string.Concat(Enumerable.Range(0, 40).Select(i => $"X-H{i}: {new string('a', 1000)}\r\n")) + "\r\n"), 431),
        // RFC 9110 §15.5.15: a target longer than the server accepts → 414.
        ["RFC 9110 §15.5.15 overlong request target"] = (() => Encoding.ASCII.GetBytes($"GET /{new string('a', 10_000)} HTTP/1.1\r\nHost: x\r\n\r\n"), 414),
        // RFC 6455 §4.2.1: an upgrade without Sec-WebSocket-Key is no handshake → 400.
        ["RFC 6455 §4.2.1 WebSocket upgrade without key"] = (() => Encoding.ASCII.GetBytes(
            "GET /mqtt HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"), 400),
        // RFC 6455 §4.4: another WebSocket version → 426 with Sec-WebSocket-Version: 13.
        ["RFC 6455 §4.4 WebSocket version 12"] = (() => Encoding.ASCII.GetBytes(
            "GET /mqtt HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 12\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"), 426),
    };

    [Theory]
    [MemberData(nameof(HttpCases))]
    public async Task Http_MalformedInput_Gets4xx_AndEveryProtocolIsStillServed(string name)
    {
        var (bytes, status) = HttpInputs[name];
        var exchange = await RawWire.TcpAsync(Broker.HttpPort, [bytes()], Quiet);

        var text = exchange.Latin1;
        Assert.StartsWith($"HTTP/1.1 {status.ToString(CultureInfo.InvariantCulture)} ", text, StringComparison.Ordinal);
        if (status == 426)
        {
            Assert.Contains("Sec-WebSocket-Version: 13", text, StringComparison.OrdinalIgnoreCase);
        }

        // A request Kestrel could not parse closes the connection (RFC 9112 §9.6); one the edge
        // answered is an RFC 9457 problem document.
        Assert.True(exchange.Closed || text.Contains("application/problem+json", StringComparison.Ordinal), $"{name}: {text}");
        await AssertEveryProtocolServedAsync();
    }

    // ---- what must hold after every bad input ----

    /// <summary>
    /// The broker logged the bad input once at warning level naming the peer, and never a failure
    /// (<c>fail:</c>/<c>crit:</c> lines carry unhandled exceptions and stack traces).
    /// </summary>
    private async Task AssertLoggedOnceAsync(string peer, string name)
    {
        var line = await Broker.WaitForLogAsync(peer);
        Assert.DoesNotContain(" fail: ", line, StringComparison.Ordinal);
        var lines = Broker.Output.Split('\n').Where(l => l.Contains(peer, StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count(l => l.Contains(" warn: ", StringComparison.Ordinal)) <= 1, $"{name}: more than one warning for one input:\n{string.Join('\n', lines)}");
        AssertNoFailureLogged();
    }

    private void AssertNoFailureLogged()
    {
        var failures = Broker.Output.Split('\n').Where(l => l.Contains(" fail: ", StringComparison.Ordinal) || l.Contains(" crit: ", StringComparison.Ordinal)
            || l.Contains("Unhandled exception", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(failures.Count == 0, "the broker logged failures:\n" + string.Join('\n', failures));
    }

    /// <summary>HTTP, CoAP, AMQP and MQTT publishes reach an MQTT subscriber; the MQTT one is read back over HTTP.</summary>
    private async Task AssertEveryProtocolServedAsync()
    {
        var root = "served/" + Guid.NewGuid().ToString("N")[..12];
        await using var subscriber = await RawMqttClient.ConnectAcceptedAsync(Broker.Port, "sub-" + root[7..]);
        await subscriber.SubscribeAsync(root + "/#");
        var http = $"http://127.0.0.1:{SecureBroker.Invariant(Broker.HttpPort)}/api/v1/topics/";

        using (var published = await Http.PostAsync(http + root + "/http", new StringContent("h")))
        {
            Assert.True(published.IsSuccessStatusCode, $"HTTP publish: {(int)published.StatusCode}");
        }

        await AssertReceivedAsync(subscriber, root + "/http", "h");

        var (ack, _) = await RawWire.UdpAsync(Broker.CoapPort, CoapWire.Put(0x1234, root + "/coap", "c"u8.ToArray()), Timeouts.Packet);
        Assert.True(ack is not null && CoapWire.Code(ack) is "2.04" or "2.01", $"CoAP PUT: {(ack is null ? "no answer" : CoapWire.Code(ack))}");
        await AssertReceivedAsync(subscriber, root + "/coap", "c");

        var amqp = await RawWire.TcpAsync(Broker.AmqpPort,
            [.. AmqpWire.Handshake(), AmqpWire.ChannelOpen(1), .. AmqpWire.Publish(1, root.Replace('/', '.') + ".amqp", "a"u8.ToArray()), AmqpWire.Method(0, 10, 50, [0, 200], AmqpWire.Short("bye"), [0, 0], [0, 0])],
            done: AmqpWire.CloseOkReceived);
        Assert.True(AmqpWire.ChannelOpened(amqp.Received, 1), $"AMQP channel.open not answered: {amqp.Latin1}");
        await AssertReceivedAsync(subscriber, root + "/amqp", "a");

        await using (var publisher = await RawMqttClient.ConnectAcceptedAsync(Broker.Port, "pub-" + root[7..]))
        {
            await publisher.PublishAsync(root + "/mqtt", "m", qos: 1, retain: true);
            await AssertReceivedAsync(subscriber, root + "/mqtt", "m");
        }

        Assert.Equal("m", await Http.GetStringAsync(http + root + "/mqtt"));
        AssertNoFailureLogged();
    }

    private static async Task AssertReceivedAsync(RawMqttClient subscriber, string topic, string payload)
    {
        var message = await subscriber.ReceivePublishAsync();
        Assert.Equal(topic, message.Topic);
        Assert.Equal(payload, Encoding.UTF8.GetString(message.Payload));
    }
}
