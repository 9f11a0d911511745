using System.Net;
using System.Text;
using System.Text.Json;
using Cicada.Core;
using Cicada.Core.Auth;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Cicada.Core.Tests;

/// <summary>README "Authentication hook": answers, caching, fail-closed and its warning, without a network.</summary>
public sealed class HttpHookAuthenticatorTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly Hook _hook = new();
    private readonly WarningCounter _log = new();
    private readonly HttpHookAuthenticator _auth;

    public HttpHookAuthenticatorTests()
    {
        var options = Options.Create(new AuthOptions { HookUrl = "http://hook.test/auth", HookCacheSeconds = 60, HookTimeoutMilliseconds = 200 });
        _auth = new HttpHookAuthenticator(new UsersFileAuthenticator(options, NullLogger<UsersFileAuthenticator>.Instance), options, _log, _time, _hook);
    }

    public void Dispose() => _auth.Dispose();

    private ValueTask<AuthResult> LoginAsync(string? user, string password = "pw", string clientId = "c1") =>
        _auth.AuthenticateAsync(new AuthRequest(clientId, user, user is null ? null : Encoding.UTF8.GetBytes(password), "test",
            new IPEndPoint(IPAddress.Loopback, 1234)), CancellationToken.None);

    [Fact]
    public async Task Allow_IsCachedForTheTtl_ThenAskedAgain()
    {
        _hook.Answer = _ => (HttpStatusCode.OK, """{"allow": true}""");
        Assert.Equal(AuthResult.Allowed, await LoginAsync("u"));
        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(AuthResult.Allowed, await LoginAsync("u"));
        Assert.Equal(1, _hook.Calls);

        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(AuthResult.Allowed, await LoginAsync("u"));
        Assert.Equal(2, _hook.Calls);

        var body = JsonDocument.Parse(_hook.LastBody!).RootElement;
        Assert.Equal("u", body.GetProperty("username").GetString());
        Assert.Equal("pw", body.GetProperty("password").GetString());
        Assert.Equal("c1", body.GetProperty("client_id").GetString());
        Assert.Equal("test", body.GetProperty("protocol").GetString());
        Assert.Equal("127.0.0.1:1234", body.GetProperty("remote").GetString());
    }

    [Theory]
    [InlineData(HttpStatusCode.OK, """{"allow": false}""")]
    [InlineData(HttpStatusCode.Forbidden, "")]
    [InlineData(HttpStatusCode.Unauthorized, """{"allow": true}""")] // 4xx denies whatever the body says
    public async Task Deny_IsBadCredentials_AndCached(HttpStatusCode status, string body)
    {
        _hook.Answer = _ => (status, body);
        Assert.Equal(AuthResult.BadCredentials, await LoginAsync("u"));
        Assert.Equal(AuthResult.BadCredentials, await LoginAsync("u"));
        Assert.Equal(1, _hook.Calls);
        Assert.Equal(0, _log.Warnings);
    }

    [Theory]
    [InlineData(HttpStatusCode.InternalServerError, """{"allow": true}""")]
    [InlineData(HttpStatusCode.ServiceUnavailable, "")]
    [InlineData(HttpStatusCode.OK, "{}")]
    [InlineData(HttpStatusCode.OK, "allow")]
    [InlineData(HttpStatusCode.OK, """{"allow": "yes"}""")]
    [InlineData(HttpStatusCode.Found, """{"allow": true}""")]
    public async Task HookFailure_FailsClosed_IsNotCached_AndWarnsOncePerInterval(HttpStatusCode status, string body)
    {
        _hook.Answer = _ => (status, body);
        for (var i = 0; i < 3; i++)
            Assert.Equal(AuthResult.BadCredentials, await LoginAsync("u"));
        Assert.Equal(3, _hook.Calls);
        Assert.Equal(1, _log.Warnings);

        _time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(AuthResult.BadCredentials, await LoginAsync("u"));
        Assert.Equal(2, _log.Warnings);

        // The hook recovers: the next login is asked again and admitted.
        _hook.Answer = _ => (HttpStatusCode.OK, """{"allow": true}""");
        Assert.Equal(AuthResult.Allowed, await LoginAsync("u"));
    }

    [Fact]
    public async Task HookTooSlow_IsRefusedAfterTheTimeout()
    {
        _hook.Hang = true;
        Assert.Equal(AuthResult.BadCredentials, await LoginAsync("u"));
        Assert.Equal(1, _log.Warnings);
    }

    [Fact]
    public async Task CacheKey_IsUserPasswordAndClientId()
    {
        _hook.Answer = body => JsonDocument.Parse(body).RootElement.GetProperty("password").GetString() == "right"
            ? (HttpStatusCode.OK, """{"allow": true}""")
            : (HttpStatusCode.OK, """{"allow": false}""");
        Assert.Equal(AuthResult.Allowed, await LoginAsync("u", "right"));
        Assert.Equal(AuthResult.BadCredentials, await LoginAsync("u", "wrong")); // an allowed password is no key for another
        Assert.Equal(AuthResult.Allowed, await LoginAsync("u", "right", clientId: "c2"));
        Assert.Equal(3, _hook.Calls);
    }

    /// <summary>
    /// HTTP has no client id: each connection gets a derived <c>http:CONNECTION</c> one. Keyed on it,
    /// every new connection asked the hook again; the key is user + password + protocol instead.
    /// </summary>
    [Fact]
    public async Task CacheKey_ForHttp_IgnoresTheDerivedPerConnectionClientId()
    {
        _hook.Answer = _ => (HttpStatusCode.OK, """{"allow": true}""");
        for (var connection = 0; connection < 3; connection++)
        {
            var request = new AuthRequest($"http:0HNCONN{connection}", "u", Encoding.UTF8.GetBytes("pw"), "http", new IPEndPoint(IPAddress.Loopback, 40000 + connection));
            Assert.Equal(AuthResult.Allowed, await _auth.AuthenticateAsync(request, CancellationToken.None));
        }

        Assert.Equal(1, _hook.Calls);

        // The same credentials over MQTT with a chosen client id are another answer (the hook may bind ids).
        Assert.Equal(AuthResult.Allowed, await LoginAsync("u", "pw", clientId: "http"));
        Assert.Equal(2, _hook.Calls);
    }

    /// <summary>CoAP without <c>?c=</c>: the client id is derived from the peer's address (new source port, new id); with <c>?c=</c> it is the client's.</summary>
    [Fact]
    public async Task CacheKey_ForCoap_IgnoresTheAddressDerivedClientId_ButKeepsAChosenOne()
    {
        _hook.Answer = _ => (HttpStatusCode.OK, """{"allow": true}""");
        for (var port = 50000; port < 50003; port++)
        {
            var remote = new IPEndPoint(IPAddress.Loopback, port);
            Assert.Equal(AuthResult.Allowed, await _auth.AuthenticateAsync(
                new AuthRequest("coap:" + remote, "u", Encoding.UTF8.GetBytes("pw"), "coap", remote), CancellationToken.None));
        }

        Assert.Equal(1, _hook.Calls);

        var chosen = new AuthRequest("lamp", "u", Encoding.UTF8.GetBytes("pw"), "coap", new IPEndPoint(IPAddress.Loopback, 50009));
        Assert.Equal(AuthResult.Allowed, await _auth.AuthenticateAsync(chosen, CancellationToken.None));
        Assert.Equal(2, _hook.Calls);
    }

    [Fact]
    public async Task Anonymous_IsDecidedByAllowAnonymous_NeverByTheHook()
    {
        Assert.Equal(AuthResult.Allowed, await LoginAsync(null));
        Assert.Equal(0, _hook.Calls);
    }

    [Fact]
    public async Task NonUtf8Password_IsRefusedWithoutAskingTheHook()
    {
        var result = await _auth.AuthenticateAsync(new AuthRequest("c1", "u", new byte[] { 0xFF, 0xFE }, "test", null), CancellationToken.None);
        Assert.Equal(AuthResult.BadCredentials, result);
        Assert.Equal(0, _hook.Calls);
    }

    [Fact]
    public async Task Cache_IsBounded()
    {
        _hook.Answer = _ => (HttpStatusCode.OK, """{"allow": true}""");
        for (var i = 0; i <= HttpHookAuthenticator.MaxCacheEntries; i++)
            await LoginAsync("u", clientId: "c" + i);
        Assert.InRange(_auth.CachedAnswers, 1, HttpHookAuthenticator.MaxCacheEntries);
    }

    [Theory]
    [InlineData("http://127.0.0.1:9000/auth", true)]
    [InlineData("https://auth.example/hook?x=1", true)]
    [InlineData("/auth", false)]
    [InlineData("ftp://auth.example/", false)]
    [InlineData("", false)]
    public void HookUrl_MustBeAbsoluteHttpOrHttps(string url, bool valid) =>
        Assert.Equal(valid, HttpHookAuthenticator.TryParseUrl(url, out _));

    private sealed class Hook : HttpMessageHandler
    {
        public Func<string, (HttpStatusCode Status, string Body)> Answer { get; set; } = _ => (HttpStatusCode.OK, """{"allow": true}""");

        public bool Hang { get; set; }

        public int Calls { get; private set; }

        public string? LastBody { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Assert.Equal(HttpMethod.Post, request.Method);
            // A Content-Length, not chunked: simple hook servers (Python's http.server) need it.
            Assert.NotNull(request.Content!.Headers.ContentLength);
            Assert.Equal("application/json", request.Content.Headers.ContentType?.MediaType);
            Calls++;
            LastBody = await request.Content!.ReadAsStringAsync(cancellationToken);
            if (Hang)
                await Task.Delay(Timeout.Infinite, cancellationToken);
            var (status, body) = Answer(LastBody);
            return new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        }
    }

    private sealed class WarningCounter : ILogger<HttpHookAuthenticator>
    {
        public int Warnings { get; private set; }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning)
                Warnings++;
        }
    }
}
