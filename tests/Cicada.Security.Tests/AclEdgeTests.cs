using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Cicada.Security.Tests.Infrastructure;

namespace Cicada.Security.Tests;

/// <summary>
/// One broker with every edge open, users alice and bob, anonymous clients refused, and one ACL
/// file: the rules MQTT applies, applied by HTTP, CoAP and AMQP (issue 9, "ACLs applied identically").
/// </summary>
public sealed class EdgeAclBrokerFixture : IAsyncLifetime
{
    public const string AlicePassword = "alice-edge-secret";
    public const string BobPassword = "bob-edge-secret";

    public SecureBroker Broker { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            AllEdges = true,
            Users = new Dictionary<string, string> { ["alice"] = AlicePassword, ["bob"] = BobPassword },
            Configuration = new Dictionary<string, string> { ["Auth:AllowAnonymous"] = "false" },
            Acl = """
                # anonymous clients (before any user line, as mosquitto)
                topic read public/#
                pattern readwrite users/%u/#

                user alice
                topic readwrite home/#
                topic deny home/secret/#
                topic readwrite devices/#

                user bob
                topic read home/public/#
                topic write bob/out/#
                """,
        });
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Broker.HttpPort}/"), Timeout = Timeouts.ExternalClient };
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Broker.DisposeAsync();
    }
}

/// <summary>The HTTP edge: Basic credentials (RFC 7617), 401 without them, 403 problem+json when the ACL refuses.</summary>
public sealed class HttpAclTests(EdgeAclBrokerFixture fixture) : IClassFixture<EdgeAclBrokerFixture>
{
    private HttpClient Http => fixture.Http;

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    private static HttpRequestMessage Request(HttpMethod method, string url, string? user, string? password = null, string? body = null)
    {
        var request = new HttpRequestMessage(method, url);
        if (user is not null)
        {
            request.Headers.Authorization = Basic(user, password);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "text/plain");
        }

        return request;
    }

    private static AuthenticationHeaderValue Basic(string user, string? password = null)
    {
        var secret = password ?? (user == "alice" ? EdgeAclBrokerFixture.AlicePassword : EdgeAclBrokerFixture.BobPassword);
        return new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{secret}")));
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, string? user, string? password = null, string? body = null)
    {
        using var request = Request(method, url, user, password, body);
        return await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    private static async Task AssertForbiddenAsync(HttpResponseMessage response, string topic, string action)
    {
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(403, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Equal(topic, problem.RootElement.GetProperty("topic").GetString());
        Assert.Equal(action, problem.RootElement.GetProperty("action").GetString());
        Assert.Contains(topic, problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rfc7617_NoOrBadCredentials_WhenAnonymousIsOff_Is401ProblemWithWwwAuthenticateBasic()
    {
        var topic = $"home/public/{Unique("anon")}";
        foreach (var (method, url, password) in new[]
        {
            (HttpMethod.Post, $"api/v1/topics/{topic}", (string?)null),
            (HttpMethod.Get, $"api/v1/topics/{topic}", null),
            (HttpMethod.Get, "api/v1/stream?filter=home/public/%23", null),
            (HttpMethod.Get, "api/v1/acl/explain?topic=a&action=read", null),
            (HttpMethod.Post, $"api/v1/topics/{topic}", "wrong-password"),
        })
        {
            using var response = password is null
                ? await SendAsync(method, url, user: null, body: method == HttpMethod.Post ? "x" : null)
                : await SendAsync(method, url, "alice", password, "x");
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {url}: {response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("Basic", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        }
    }

    [Fact]
    public async Task Publish_WithoutWrite_Is403NamingTopicAndAction_AndNothingIsRetainedOrDelivered()
    {
        var tag = Unique("pub");
        var topic = $"home/public/{tag}/lamp";
        await using var watcher = await Mosquitto.SubscribeAsync(fixture.Broker.Port, $"home/public/{tag}/#",
            "-u", "alice", "-P", EdgeAclBrokerFixture.AlicePassword);

        // bob may read home/public/# but write only bob/out/#: POST and PUT are publishes.
        using (var post = await SendAsync(HttpMethod.Post, $"api/v1/topics/{topic}?retain=true", "bob", body: "from bob"))
        {
            await AssertForbiddenAsync(post, topic, "write");
        }

        using (var put = await SendAsync(HttpMethod.Put, $"api/v1/topics/{topic}?qos=1", "bob", body: "from bob"))
        {
            await AssertForbiddenAsync(put, topic, "write");
        }

        using (var own = await SendAsync(HttpMethod.Post, $"api/v1/topics/bob/out/{tag}", "bob", body: "allowed"))
        {
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        }

        using (var sentinel = await SendAsync(HttpMethod.Post, $"api/v1/topics/home/public/{tag}/end?qos=1", "alice", body: "end"))
        {
            Assert.Equal(HttpStatusCode.OK, sentinel.StatusCode);
        }

        Assert.Equal([($"home/public/{tag}/end", "end")], await Mosquitto.ReceiveUntilAsync(watcher, $"home/public/{tag}/end"));
        using var retained = await SendAsync(HttpMethod.Get, $"api/v1/topics/{topic}", "alice");
        Assert.Equal(HttpStatusCode.NotFound, retained.StatusCode);
        await fixture.Broker.WaitForLogAsync($"(user bob) may not publish to '{topic}'");
    }

    [Fact]
    public async Task GetRetained_WithoutRead_Is403_EvenWhereNothingIsRetained_AndDeleteNeedsWrite()
    {
        var tag = Unique("get");
        var secret = $"home/kitchen/{tag}";
        using (var stored = await SendAsync(HttpMethod.Post, $"api/v1/topics/{secret}?retain=true&qos=1", "alice", body: "21.5"))
        {
            Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        }

        using (var denied = await SendAsync(HttpMethod.Get, $"api/v1/topics/{secret}", "bob"))
        {
            await AssertForbiddenAsync(denied, secret, "read");
        }

        // 403, not 404: an answer about existence would leak what bob may not read.
        using (var absent = await SendAsync(HttpMethod.Get, $"api/v1/topics/home/kitchen/{tag}-none", "bob"))
        {
            await AssertForbiddenAsync(absent, $"home/kitchen/{tag}-none", "read");
        }

        // Clearing a retained message is a publish: bob may read home/public/# but not write it.
        var readable = $"home/public/{tag}";
        using (var stored = await SendAsync(HttpMethod.Post, $"api/v1/topics/{readable}?retain=true&qos=1", "alice", body: "on"))
        {
            Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        }

        using (var read = await SendAsync(HttpMethod.Get, $"api/v1/topics/{readable}", "bob"))
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            Assert.Equal("on", await read.Content.ReadAsStringAsync());
        }

        using (var delete = await SendAsync(HttpMethod.Delete, $"api/v1/topics/{readable}", "bob"))
        {
            await AssertForbiddenAsync(delete, readable, "write");
        }

        using var still = await SendAsync(HttpMethod.Get, $"api/v1/topics/{readable}", "alice");
        Assert.Equal("on", await still.Content.ReadAsStringAsync());

        // A deny rule wins over alice's grant for reads too.
        using var secretRead = await SendAsync(HttpMethod.Get, "api/v1/topics/home/secret/door", "alice");
        await AssertForbiddenAsync(secretRead, "home/secret/door", "read");
    }

    [Fact]
    public async Task RetainedListing_HoldsOnlyTopicsTheCallerMayRead()
    {
        var tag = Unique("list");
        foreach (var topic in new[] { $"home/public/{tag}", $"home/kitchen/{tag}" })
        {
            using var stored = await SendAsync(HttpMethod.Post, $"api/v1/topics/{topic}?retain=true&qos=1", "alice", body: "v");
            Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        }

        async Task<string[]> ListAsync(string user)
        {
            using var response = await SendAsync(HttpMethod.Get, "api/v1/retained?filter=home/%2B/" + tag, user);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var list = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return [.. list.RootElement.EnumerateArray().Select(m => m.GetProperty("topic").GetString()!)];
        }

        Assert.Equal([$"home/kitchen/{tag}", $"home/public/{tag}"], await ListAsync("alice"));
        Assert.Equal([$"home/public/{tag}"], await ListAsync("bob"));
    }

    [Fact]
    public async Task SseStream_FilterWithoutRead_Is403_AReadableFilterStreams()
    {
        foreach (var filter in new[] { "home/#", "home/+/lamp", "#" })
        {
            using var denied = await SendAsync(HttpMethod.Get, "api/v1/stream?filter=" + Uri.EscapeDataString(filter), "bob");
            await AssertForbiddenAsync(denied, filter, "read");
        }

        // Every filter must be readable: one unreadable filter refuses the whole stream.
        using (var mixed = await SendAsync(HttpMethod.Get, "api/v1/stream?filter=home/public/%23&filter=home/kitchen/%23", "bob"))
        {
            await AssertForbiddenAsync(mixed, "home/kitchen/#", "read");
        }

        var tag = Unique("sse");
        using var stream = await SendAsync(HttpMethod.Get, $"api/v1/stream?filter=home/public/{tag}/%23", "bob");
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(Timeouts.ExternalClient);
        Assert.StartsWith("retry:", await reader.ReadLineAsync(timeout.Token), StringComparison.Ordinal);
        using (var sent = await SendAsync(HttpMethod.Post, $"api/v1/topics/home/public/{tag}/x", "alice", body: "live"))
        {
            Assert.Equal(HttpStatusCode.OK, sent.StatusCode);
        }

        string? line;
        do
        {
            line = await reader.ReadLineAsync(timeout.Token);
        }
        while (line is not null && !line.StartsWith("data:", StringComparison.Ordinal));
        Assert.Contains("\"live\"", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeviceCommandAndState_AreAPublishAndARead_UnderTheSameAcl()
    {
        var id = Unique("lamp");
        var device = $$"""{"identifier":"{{id}}","name":"Lamp","device_type":"light","controller_gateway":"gw"}""";
        using (var register = new HttpRequestMessage(HttpMethod.Post, "api/v1/devices"))
        {
            register.Headers.Authorization = Basic("alice");
            register.Content = new StringContent(device, Encoding.UTF8, "application/json");
            using var created = await Http.SendAsync(register);
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        }

        // devices/{id}/commands/on: alice has readwrite devices/#, bob nothing there.
        using (var denied = await SendAsync(HttpMethod.Post, $"api/v1/devices/{id}/commands/on", "bob", body: "1"))
        {
            await AssertForbiddenAsync(denied, $"devices/{id}/commands/on", "write");
        }

        using (var accepted = await SendAsync(HttpMethod.Post, $"api/v1/devices/{id}/commands/on", "alice", body: "1"))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        using (var state = await SendAsync(HttpMethod.Get, $"api/v1/devices/{id}/state", "bob"))
        {
            await AssertForbiddenAsync(state, $"devices/{id}/state/#", "read");
        }

        using var own = await SendAsync(HttpMethod.Get, $"api/v1/devices/{id}/state", "alice");
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
    }

    [Fact]
    public async Task AclExplain_SaysAllowedOrDenied_AndWhichRuleDecided()
    {
        async Task<JsonElement> ExplainAsync(string query)
        {
            using var response = await SendAsync(HttpMethod.Get, "api/v1/acl/explain?" + query, "bob");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{query}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return json.RootElement.Clone();
        }

        // The deny rule (line 7 of the file) beats alice's readwrite home/#.
        var deny = await ExplainAsync("user=alice&topic=home/secret/door&action=write");
        Assert.False(deny.GetProperty("allowed").GetBoolean());
        Assert.Equal("denied", deny.GetProperty("decision").GetString());
        Assert.Equal("topic deny home/secret/#", deny.GetProperty("rule").GetProperty("text").GetString());
        Assert.Equal(7, deny.GetProperty("rule").GetProperty("line").GetInt32());
        Assert.True(deny.GetProperty("rule").GetProperty("deny").GetBoolean());
        Assert.Contains("denied by", deny.GetProperty("reason").GetString(), StringComparison.Ordinal);

        var grant = await ExplainAsync("user=bob&topic=home/public/%2B&action=read");
        Assert.True(grant.GetProperty("allowed").GetBoolean());
        Assert.Equal("topic read home/public/#", grant.GetProperty("rule").GetProperty("text").GetString());
        Assert.Equal("bob", grant.GetProperty("rule").GetProperty("user").GetString());

        // No user = the anonymous client: only the rules before any `user` line.
        var anonymous = await ExplainAsync("topic=public/news&action=read");
        Assert.True(anonymous.GetProperty("allowed").GetBoolean());
        Assert.Equal(JsonValueKind.Null, anonymous.GetProperty("user").ValueKind);
        var anonymousWrite = await ExplainAsync("topic=public/news&action=write");
        Assert.False(anonymousWrite.GetProperty("allowed").GetBoolean());
        Assert.Equal(JsonValueKind.Null, anonymousWrite.GetProperty("rule").ValueKind);
        Assert.Contains("no rule", anonymousWrite.GetProperty("reason").GetString(), StringComparison.Ordinal);

        // %u substituted with the user asked about.
        var pattern = await ExplainAsync("user=carol&client=c1&topic=users/carol/inbox&action=write");
        Assert.True(pattern.GetProperty("allowed").GetBoolean());
        Assert.True(pattern.GetProperty("rule").GetProperty("pattern").GetBoolean());
        Assert.False((await ExplainAsync("user=carol&topic=users/dave/inbox&action=write")).GetProperty("allowed").GetBoolean());
    }

    [Fact]
    public async Task AclExplain_MissingOrInvalidParameters_Are400Problems()
    {
        foreach (var query in new[] { "topic=a/b", "topic=a/b&action=delete", "action=read", "topic=a/%23&action=write", "topic=a/%23/b&action=read" })
        {
            using var response = await SendAsync(HttpMethod.Get, "api/v1/acl/explain?" + query, "alice");
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{query}: {response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }
}

/// <summary>The CoAP edge: <c>?u=&amp;p=</c> credentials, 4.01 when they fail, 4.03 (RFC 7252 §5.9.2.4) when the ACL refuses.</summary>
public sealed class CoapAclTests(EdgeAclBrokerFixture fixture) : IClassFixture<EdgeAclBrokerFixture>
{
    private string Uri(string topic, string? user, string? password = null)
    {
        var query = user is null ? string.Empty
            : $"?u={user}&p={password ?? (user == "alice" ? EdgeAclBrokerFixture.AlicePassword : EdgeAclBrokerFixture.BobPassword)}";
        return $"coap://127.0.0.1:{fixture.Broker.CoapPort.ToString(CultureInfo.InvariantCulture)}/ps/{topic}{query}";
    }

    private static async Task<string> CoapAsync(params string[] arguments)
    {
        var result = await ExternalProcess.RunAsync("coap-client-notls", arguments, Timeouts.ExternalClient);
        return string.Join('\n', result.StandardOutput) + "\n" + result.StandardError;
    }

    private static string Tag() => Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Rfc7252_5_9_2_2_MissingOrBadCredentials_Are401()
    {
        var topic = $"home/public/{Tag()}";
        Assert.Contains("4.01", await CoapAsync("-m", "put", "-e", "x", Uri(topic, user: null)), StringComparison.Ordinal);
        Assert.Contains("4.01", await CoapAsync("-m", "get", Uri(topic, "bob", "wrong")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rfc7252_5_9_2_4_PutPostDeleteWithoutWrite_Are403_AndNothingIsStored()
    {
        var topic = $"home/public/{Tag()}";
        Assert.Contains("4.03", await CoapAsync("-m", "put", "-e", "from bob", Uri(topic, "bob")), StringComparison.Ordinal);
        Assert.Contains("4.03", await CoapAsync("-m", "post", "-e", "from bob", Uri(topic, "bob")), StringComparison.Ordinal);
        Assert.Contains("4.04", await CoapAsync("-m", "get", Uri(topic, "alice")), StringComparison.Ordinal);

        var put = await CoapAsync("-m", "put", "-e", "from alice", Uri(topic, "alice"));
        Assert.DoesNotContain("4.", put, StringComparison.Ordinal);
        Assert.Contains("4.03", await CoapAsync("-m", "delete", Uri(topic, "bob")), StringComparison.Ordinal);
        Assert.Equal("from alice", (await CoapAsync("-m", "get", Uri(topic, "bob"))).Trim());
        await fixture.Broker.WaitForLogAsync($"(user bob) may not publish to '{topic}'");
    }

    [Fact]
    public async Task Rfc6690_WellKnownCore_ListsOnlyRetainedTopicsTheRequesterMayRead()
    {
        var tag = Tag();
        var kitchen = $"home/kitchen/{tag}";
        var shared = $"home/public/{tag}";
        Assert.DoesNotContain("4.", await CoapAsync("-m", "put", "-e", "21.5", Uri(kitchen, "alice")), StringComparison.Ordinal);
        Assert.DoesNotContain("4.", await CoapAsync("-m", "put", "-e", "open", Uri(shared, "alice")), StringComparison.Ordinal);
        var port = fixture.Broker.CoapPort.ToString(CultureInfo.InvariantCulture);
        string Discovery(string user) => $"coap://127.0.0.1:{port}/.well-known/core?u={user}&p={(user == "alice" ? EdgeAclBrokerFixture.AlicePassword : EdgeAclBrokerFixture.BobPassword)}";

        var asBob = await CoapAsync("-m", "get", Discovery("bob"));
        Assert.Contains($"</ps/{shared}>", asBob, StringComparison.Ordinal);
        Assert.DoesNotContain($"</ps/{kitchen}>", asBob, StringComparison.Ordinal);

        var asAlice = await CoapAsync("-m", "get", Discovery("alice"));
        Assert.Contains($"</ps/{shared}>", asAlice, StringComparison.Ordinal);
        Assert.Contains($"</ps/{kitchen}>", asAlice, StringComparison.Ordinal);

        // The collection resource lists the same way; without credentials (anonymous is off) it is 4.01.
        var collection = await CoapAsync("-m", "get", Uri(string.Empty, "bob").Replace("/ps/", "/ps", StringComparison.Ordinal));
        Assert.Contains($"</ps/{shared}>", collection, StringComparison.Ordinal);
        Assert.DoesNotContain($"</ps/{kitchen}>", collection, StringComparison.Ordinal);
        Assert.Contains("4.01", await CoapAsync("-m", "get", $"coap://127.0.0.1:{port}/.well-known/core"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rfc7252_5_9_2_4_GetAndObserveWithoutRead_Are403()
    {
        var tag = Tag();
        var secret = $"home/kitchen/{tag}";
        Assert.DoesNotContain("4.", await CoapAsync("-m", "put", "-e", "21.5", Uri(secret, "alice")), StringComparison.Ordinal);

        Assert.Contains("4.03", await CoapAsync("-m", "get", Uri(secret, "bob")), StringComparison.Ordinal);
        Assert.Equal("21.5", (await CoapAsync("-m", "get", Uri(secret, "alice"))).Trim());

        // Observe (RFC 7641) subscribes: a filter reaching beyond what bob may read is refused.
        Assert.Contains("4.03", await CoapAsync("-m", "get", "-s", "2", Uri("home/%2B/" + tag, "bob")), StringComparison.Ordinal);
        Assert.Contains("4.03", await CoapAsync("-m", "get", "-s", "2", Uri(secret, "bob")), StringComparison.Ordinal);
        await fixture.Broker.WaitForLogAsync($"(user bob) may not subscribe to '{secret}'");
    }

    [Fact]
    public async Task Patterns_SubstituteTheCoapUser()
    {
        var topic = $"users/alice/{Tag()}";
        Assert.Contains("4.03", await CoapAsync("-m", "put", "-e", "forged", Uri(topic, "bob")), StringComparison.Ordinal);
        Assert.DoesNotContain("4.", await CoapAsync("-m", "put", "-e", "mine", Uri(topic, "alice")), StringComparison.Ordinal);
        Assert.Equal("mine", (await CoapAsync("-m", "get", Uri(topic, "alice"))).Trim());
        Assert.Contains("4.03", await CoapAsync("-m", "get", Uri(topic, "bob")), StringComparison.Ordinal);
    }
}

/// <summary>The AMQP edge: amq.topic publishes and bindings under the ACL, 403 ACCESS_REFUSED channel errors (pika).</summary>
public sealed class AmqpAclTests(EdgeAclBrokerFixture fixture) : IClassFixture<EdgeAclBrokerFixture>
{
    private async Task RunAsync(string scenario)
    {
        var script = Path.Combine(Repository.Root, "tests", "Cicada.Security.Tests", "clients", "pika_acl.py");
        var result = await ExternalProcess.RunAsync("/usr/bin/python3",
            [script, scenario, SecureBroker.Invariant(fixture.Broker.AmqpPort), EdgeAclBrokerFixture.AlicePassword, EdgeAclBrokerFixture.BobPassword],
            Timeouts.ExternalClient);
        Assert.True(result.ExitCode == 0 && result.StandardOutput.Contains("OK"),
            $"pika scenario {scenario} failed:\n{result}\n--- broker ---\n{fixture.Broker.Output}");
    }

    [Fact]
    public async Task Amqp091_AccessRefused_PublishToAmqTopicWithoutWrite_ClosesTheChannel403_AndIsNotRouted()
    {
        await RunAsync("publish_denied");
        await fixture.Broker.WaitForLogAsync("(user bob) may not publish to 'home/public/");
    }

    [Fact]
    public Task Amqp091_AccessRefused_BindingAmqTopicToAnUnreadableFilter_Is403() => RunAsync("bind_denied");

    [Fact]
    public Task Amqp091_AccessRefused_ConsumingAQueueBoundToUnreadableTopics_Is403() => RunAsync("consume_denied");
}
