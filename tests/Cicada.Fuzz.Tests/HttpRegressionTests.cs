using System.Text;
using System.Text.Json;
using Cicada.Fuzz.Tests.Http;

namespace Cicada.Fuzz.Tests;

/// <summary>One <c>cicada</c> (HTTP only) shared by the regression tests of a class.</summary>
public sealed class HttpFuzzBrokerFixture : IAsyncLifetime
{
    public HttpFuzzBroker Broker { get; private set; } = null!;

    public async Task InitializeAsync() => Broker = await HttpFuzzBroker.StartAsync();

    public async Task DisposeAsync() => await Broker.DisposeAsync();
}

/// <summary>Inputs the HTTP fuzz found that broke the edge, kept as plain tests after the fix.</summary>
public sealed class HttpRegressionTests(HttpFuzzBrokerFixture fixture) : IClassFixture<HttpFuzzBrokerFixture>
{
    private async Task<RawHttpResponse> SendAsync(string method, string target, string? body = null, byte[]? rawBody = null, string contentType = "application/json")
    {
        var payload = rawBody ?? (body is null ? [] : Encoding.UTF8.GetBytes(body));
        var head = $"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {contentType}\r\nContent-Length: {payload.Length}\r\n\r\n";
        await using var client = new RawHttpClient(fixture.Broker.Port);
        return await client.SendAsync([.. Encoding.ASCII.GetBytes(head), .. payload]);
    }

    private static void AssertProblem(RawHttpResponse response, int status)
    {
        Assert.Equal(status, response.Status);
        Assert.StartsWith("application/problem+json", response.ContentType, StringComparison.Ordinal);
        Assert.Equal(status, JsonDocument.Parse(response.Body).RootElement.GetProperty("status").GetInt32());
    }

    private static string Id() => "reg-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>
    /// RFC 8259 §4: "The names within an object SHOULD be unique"; with duplicates JsonObject threw
    /// ArgumentException on first access, a 500. Now a 400 problem naming the body.
    /// </summary>
    [Fact]
    public async Task Rfc8259_4_DeviceBodyWithDuplicateNames_Is400()
    {
        var response = await SendAsync("POST", "/api/v1/devices",
            $$"""{"identifier":"{{Id()}}","name":"n","device_type":"t","controller_gateway":"g","identifier":[]}""");

        AssertProblem(response, 400);
        Assert.Contains("body", response.BodyText, StringComparison.Ordinal);
    }

    /// <summary>RFC 8259 §8.1: JSON text is UTF-8; an invalid octet in a member name threw InvalidOperationException when read (500).</summary>
    [Fact]
    public async Task Rfc8259_8_1_DeviceBodyThatIsNotUtf8_Is400()
    {
        var body = Encoding.UTF8.GetBytes($$"""{"identifier":"{{Id()}}","name":"n","device_type":"t","controller_gateway":"g","av__x":1}""");
        var at = Array.IndexOf(body, (byte)'_');
        body[at] = 0xE7;
        body[at + 1] = 0xB6; // a truncated three-octet sequence

        AssertProblem(await SendAsync("POST", "/api/v1/devices", rawBody: body), 400);
    }

    /// <summary>RFC 8259 §8.2: an escaped lone surrogate is no Unicode character; reading it threw (500).</summary>
    [Fact]
    public async Task Rfc8259_8_2_DeviceBodyWithLoneSurrogateEscape_Is400()
    {
        var response = await SendAsync("POST", "/api/v1/devices",
            $$"""{"identifier":"{{Id()}}","name":"\ud800","device_type":"t","controller_gateway":"g"}""");

        AssertProblem(response, 400);
    }

    /// <summary>?wait=NaN: double.TryParse accepts NaN, TimeSpan.FromSeconds threw (500); RFC 9110 §15.5.1: the client's error.</summary>
    [Theory]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("-Infinitys")]
    public async Task Rfc9110_15_5_1_CommandWaitThatIsNotANumber_Is400(string wait)
    {
        var response = await SendAsync("POST", $"/api/v1/devices/{Id()}/commands/power?wait={wait}", "ON", contentType: "text/plain");

        AssertProblem(response, 400);
    }

    /// <summary>
    /// RFC 9457 §3 for routing's own answers: no endpoint (404) and a method the path lacks (405,
    /// with its Allow header, RFC 9110 §15.5.6) used to be empty bodies.
    /// </summary>
    [Fact]
    public async Task Rfc9457_3_NoEndpointAndWrongMethod_AreProblemDocuments()
    {
        AssertProblem(await SendAsync("GET", "/api/v1/nope"), 404);

        var wrongMethod = await SendAsync("PATCH", "/api/v1/topics/reg/x", "x");
        AssertProblem(wrongMethod, 405);
        Assert.Contains("POST", wrongMethod.Header("Allow") ?? string.Empty, StringComparison.Ordinal);
    }

    /// <summary>
    /// RFC 3986 §2.1/§2.4: <c>%2F</c> is the encoding of '/' — in a topic path, the level separator;
    /// <c>%25</c> is a literal '%'. Kestrel left <c>%2F</c> encoded, so <c>a%2Fb</c> published to a
    /// topic literally named <c>a%2Fb</c>, the same one <c>a%252Fb</c> names.
    /// </summary>
    [Fact]
    public async Task Rfc3986_2_1_PercentEncodedSlashSeparatesLevels_AndEncodedPercentIsLiteral()
    {
        var level = Id();
        var slash = await SendAsync("POST", $"/api/v1/topics/{level}%2Fb?retain=true", "slash", contentType: "text/plain");
        Assert.Equal(200, slash.Status);
        Assert.Equal($"{level}/b", JsonDocument.Parse(slash.Body).RootElement.GetProperty("topic").GetString());

        var percent = await SendAsync("POST", $"/api/v1/topics/{level}%252Fb?retain=true", "percent", contentType: "text/plain");
        Assert.Equal($"{level}%2Fb", JsonDocument.Parse(percent.Body).RootElement.GetProperty("topic").GetString());

        Assert.Equal("slash", (await SendAsync("GET", $"/api/v1/topics/{level}/b")).BodyText);
        Assert.Equal("percent", (await SendAsync("GET", $"/api/v1/topics/{level}%252Fb")).BodyText);
    }

    /// <summary>
    /// RFC 3986 §2.5: percent-encoded octets of a text component are UTF-8, and a topic must be
    /// UTF-8 (MQTT-1.5.4-1). <c>%FF</c> used to become a topic literally named <c>%FF</c>.
    /// </summary>
    [Theory]
    [InlineData("reg/%FF")]
    [InlineData("reg/%C3")]
    [InlineData("reg/%ED%A0%80")]
    [InlineData("reg/%G1")]
    public async Task Rfc3986_2_5_TopicPathThatIsNotUtf8_Is400(string path)
    {
        var response = await SendAsync("POST", "/api/v1/topics/" + path, "x", contentType: "text/plain");

        AssertProblem(response, 400);
        Assert.Contains("\"field\":\"topic\"", response.BodyText, StringComparison.Ordinal);
    }

    /// <summary>RFC 3986 §5.2.4: dot segments are removed before routing; <c>a/../b</c> silently published to <c>b</c>.</summary>
    [Fact]
    public async Task Rfc3986_5_2_4_DotSegmentInATopicPath_Is400_NotAnotherTopic()
    {
        var response = await SendAsync("POST", $"/api/v1/topics/{Id()}/../b", "x", contentType: "text/plain");

        AssertProblem(response, 400);
    }

    /// <summary>
    /// RFC 9110 §10.2.2: Location names the created resource. For an identifier holding '/', it is
    /// <c>/api/v1/devices/a%2Fb</c>, which the routed value (still <c>a%2Fb</c>) never found.
    /// </summary>
    [Fact]
    public async Task Rfc9110_10_2_2_LocationOfADeviceWhoseIdentifierHasASlash_FindsIt()
    {
        var identifier = Id() + "/b";
        var created = await SendAsync("POST", "/api/v1/devices",
            $$"""{"identifier":"{{identifier}}","name":"n","device_type":"t","controller_gateway":"g"}""");
        Assert.Equal(201, created.Status);

        var found = await SendAsync("GET", created.Header("Location")!);

        Assert.Equal(200, found.Status);
        Assert.Equal(identifier, JsonDocument.Parse(found.Body).RootElement.GetProperty("data").GetProperty("identifier").GetString());
        Assert.Equal(204, (await SendAsync("DELETE", created.Header("Location")!)).Status);
    }
}
