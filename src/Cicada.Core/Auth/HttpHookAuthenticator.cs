using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Core.Auth;

/// <summary>
/// The <see cref="IAuthenticator"/> when <see cref="AuthOptions.HookUrl"/> is set: the users file
/// first, then an HTTP hook for every username the file does not hold.
/// <list type="bullet">
/// <item>No username, or a username in the users file: the <see cref="UsersFileAuthenticator"/>
/// decides alone (anonymous on/off, the file's hash) — the hook never overrides a local user.</item>
/// <item>Any other username: POST <c>{"username","password","client_id","protocol","remote"}</c> to
/// the hook. HTTP 2xx with <c>{"allow": true}</c> allows; 2xx with <c>{"allow": false}</c> or any
/// 4xx denies. Both answers are cached per (username, password, client id — or protocol, for the
/// ids the broker derives itself, see <see cref="CacheKey"/>) for <see cref="AuthOptions.HookCacheSeconds"/>.</item>
/// <item>A timeout, a connection error, a 5xx, a redirect or a 2xx body without a boolean
/// <c>allow</c> deny as well (fail closed), are not cached (the next login asks again), and log
/// one warning line per <see cref="WarningInterval"/> with the number of failures since.</item>
/// </list>
/// A refusal is <see cref="AuthResult.BadCredentials"/>, as for an unknown user of the file.
/// </summary>
public sealed partial class HttpHookAuthenticator : IAuthenticator, IDisposable
{
    /// <summary>Answers kept at most; a full cache first drops expired entries, then everything.</summary>
    public const int MaxCacheEntries = 10_000;

    /// <summary>A hook's answer is one small JSON object; anything bigger is refused unread.</summary>
    private const int MaxResponseBytes = 16 * 1024;

    private static readonly TimeSpan WarningInterval = TimeSpan.FromSeconds(10);

    private readonly UsersFileAuthenticator _users;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Uri _url;
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _cacheFor;
    private readonly HttpClient _client;
    private readonly ConcurrentDictionary<string, CachedAnswer> _cache = new(StringComparer.Ordinal);
    private long _nextWarningTicks;
    private long _failuresSinceWarning;

    public HttpHookAuthenticator(UsersFileAuthenticator users, IOptions<AuthOptions> options, ILogger<HttpHookAuthenticator> logger,
        TimeProvider? time = null, HttpMessageHandler? handler = null)
    {
        var o = options.Value;
        if (!TryParseUrl(o.HookUrl, out var url))
            throw new ArgumentException($"Auth:HookUrl '{o.HookUrl}' is not an absolute http or https URL.", nameof(options));
        _users = users;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _url = url;
        _timeout = TimeSpan.FromMilliseconds(Math.Max(1, o.HookTimeoutMilliseconds));
        _cacheFor = TimeSpan.FromSeconds(Math.Max(0, o.HookCacheSeconds));
        // One shared client for the broker's life; the pooled connection lifetime makes it notice a
        // DNS change of the hook's host. No automatic redirects: a 3xx is an answer we do not accept.
        _client = new HttpClient(handler ?? new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            AllowAutoRedirect = false,
            ConnectTimeout = _timeout,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan, // our own per-call token enforces HookTimeoutMilliseconds
            MaxResponseContentBufferSize = MaxResponseBytes,
        };
    }

    /// <summary>Answers held now (for tests of the bound).</summary>
    internal int CachedAnswers => _cache.Count;

    /// <summary>Whether <paramref name="value"/> is an absolute http or https URL (the only hooks accepted).</summary>
    public static bool TryParseUrl(string? value, out Uri url)
    {
        url = null!;
        if (string.IsNullOrWhiteSpace(value) || !Uri.TryCreate(value, UriKind.Absolute, out var parsed)
            || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps))
            return false;
        url = parsed;
        return true;
    }

    public async ValueTask<AuthResult> AuthenticateAsync(AuthRequest request, CancellationToken cancellationToken)
    {
        if (request.Username is not { } username || _users.Knows(username))
            return _users.Authenticate(request);

        var password = request.Password ?? ReadOnlyMemory<byte>.Empty;
        string passwordText;
        try
        {
            passwordText = StrictUtf8.GetString(password.Span);
        }
        catch (DecoderFallbackException)
        {
            // The hook speaks JSON text; a binary password cannot be sent faithfully, so it cannot match.
            LogHookDenied(request.Protocol, request.ClientId, username, "password is not UTF-8");
            return AuthResult.BadCredentials;
        }

        var key = CacheKey(username, password.Span, request);
        var now = _time.GetTimestamp();
        if (_cacheFor > TimeSpan.Zero && _cache.TryGetValue(key, out var cached) && _time.GetElapsedTime(cached.At, now) < _cacheFor)
            return Result(cached.Allow, request, username, cached: true);

        var allow = await AskAsync(new HookRequest(username, passwordText, request.ClientId, request.Protocol,
            request.RemoteEndPoint?.ToString()), request, cancellationToken).ConfigureAwait(false);
        if (allow is not { } answer)
            return AuthResult.BadCredentials;

        if (_cacheFor > TimeSpan.Zero)
            Remember(key, new CachedAnswer(answer, _time.GetTimestamp()));
        return Result(answer, request, username, cached: false);
    }

    /// <summary>The hook's answer, or null when it gave none we accept (logged, not cached).</summary>
    private async Task<bool?> AskAsync(HookRequest body, AuthRequest request, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            // Serialized up front, not streamed: a body with Content-Length rather than chunked, which
            // the simplest hook servers (Python's http.server, CGI) need.
            using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, HookJsonContext.Default.HookRequest));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            using var response = await _client.PostAsync(_url, content, timeout.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status is >= 400 and < 500)
                return false;
            if (status is < 200 or >= 300)
            {
                Failed(request, $"HTTP {status}");
                return null;
            }

            var answer = await response.Content.ReadFromJsonAsync(HookJsonContext.Default.HookResponse, timeout.Token).ConfigureAwait(false);
            if (answer?.Allow is not { } allow)
            {
                Failed(request, $"HTTP {status} without a boolean \"allow\"");
                return null;
            }
            return allow;
        }
        catch (OperationCanceledException)
        {
            // The client went away while we waited: refuse quietly; only our own timeout is the hook's fault.
            if (!cancellationToken.IsCancellationRequested)
                Failed(request, $"no answer within {_timeout.TotalMilliseconds:0} ms");
            return null;
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or NotSupportedException or IOException)
        {
            Failed(request, ex.Message);
            return null;
        }
    }

    private AuthResult Result(bool allow, AuthRequest request, string username, bool cached)
    {
        if (allow)
            return AuthResult.Allowed;
        LogHookDenied(request.Protocol, request.ClientId, username, cached ? "hook said no (cached)" : "hook said no");
        return AuthResult.BadCredentials;
    }

    /// <summary>Fail closed, and say so at most once per <see cref="WarningInterval"/> so a dead hook cannot flood the log.</summary>
    private void Failed(AuthRequest request, string reason)
    {
        var failures = Interlocked.Increment(ref _failuresSinceWarning);
        var now = _time.GetUtcNow().UtcTicks;
        var next = Interlocked.Read(ref _nextWarningTicks);
        if (now < next || Interlocked.CompareExchange(ref _nextWarningTicks, now + WarningInterval.Ticks, next) != next)
            return;
        Interlocked.Add(ref _failuresSinceWarning, -failures);
        LogHookFailed(_url.GetLeftPart(UriPartial.Path), reason, request.Protocol, request.ClientId, failures);
    }

    private void Remember(string key, CachedAnswer answer)
    {
        if (_cache.Count >= MaxCacheEntries && !_cache.ContainsKey(key))
        {
            var now = _time.GetTimestamp();
            foreach (var (k, v) in _cache)
            {
                if (_time.GetElapsedTime(v.At, now) >= _cacheFor)
                    _cache.TryRemove(k, out _);
            }
            // Still full of live answers (a credential-stuffing run): start over rather than grow.
            if (_cache.Count >= MaxCacheEntries)
                _cache.Clear();
        }
        _cache[key] = answer;
    }

    /// <summary>SHA-256 of the three fields, length-prefixed so no two triples collide; the password is never kept.</summary>
    /// <summary>
    /// What a cached answer stands for: username, password and the client id the client chose (the
    /// hook may bind users to client ids, so an answer for one id is no answer for another). An id
    /// the broker derived itself — HTTP's per-connection <c>http:…</c>, CoAP's <c>coap:ADDRESS:PORT</c>
    /// without <c>?c=</c> — names no client and never repeats, so it is left out and the protocol
    /// stands in for it: every HTTP request of a user reuses one answer instead of asking the hook
    /// once per connection. The remote address is never part of the key.
    /// </summary>
    private static string CacheKey(string username, ReadOnlySpan<byte> password, AuthRequest request)
    {
        var derived = request.Protocol == "http"
            || (request.Protocol == "coap" && request.RemoteEndPoint is { } remote && request.ClientId == "coap:" + remote);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Append(sha, Encoding.UTF8.GetBytes(username));
        Append(sha, password);
        Append(sha, [derived ? (byte)1 : (byte)0]);
        Append(sha, Encoding.UTF8.GetBytes(derived ? request.Protocol : request.ClientId));
        return Convert.ToHexString(sha.GetHashAndReset());

        static void Append(IncrementalHash sha, ReadOnlySpan<byte> field)
        {
            Span<byte> length = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, field.Length);
            sha.AppendData(length);
            sha.AppendData(field);
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public void Dispose() => _client.Dispose();

    private readonly record struct CachedAnswer(bool Allow, long At);

    [LoggerMessage(EventId = 150, Level = LogLevel.Information, Message = "{Protocol} client {ClientId} refused: user {Username} denied by the auth hook ({Reason})")]
    private partial void LogHookDenied(string protocol, string clientId, string username, string reason);

    [LoggerMessage(EventId = 151, Level = LogLevel.Warning,
        Message = "Auth hook {Url} failed: {Reason} ({Protocol} client {ClientId}); logins it would decide are refused ({Failures} failures since the last warning)")]
    private partial void LogHookFailed(string url, string reason, string protocol, string clientId, long failures);
}

/// <summary>The body POSTed to <see cref="AuthOptions.HookUrl"/>.</summary>
public sealed record HookRequest(
    [property: JsonPropertyName("username")] string Username,
    [property: JsonPropertyName("password")] string Password,
    [property: JsonPropertyName("client_id")] string ClientId,
    [property: JsonPropertyName("protocol")] string Protocol,
    [property: JsonPropertyName("remote")] string? Remote);

/// <summary>The hook's answer: <c>{"allow": true}</c> or <c>{"allow": false}</c>; other members are ignored.</summary>
public sealed record HookResponse([property: JsonPropertyName("allow")] bool? Allow);

/// <summary>Source-generated (Native AOT: no reflection-based serialization).</summary>
[JsonSerializable(typeof(HookRequest))]
[JsonSerializable(typeof(HookResponse))]
internal sealed partial class HookJsonContext : JsonSerializerContext;
