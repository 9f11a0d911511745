using System.Net;
using System.Text;
using Cicada.Core.Auth;
using Cicada.Core.Limits;
using Cicada.Http.Rest;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Cicada.Http;

/// <summary>
/// Turns a failure inside an endpoint into a 500 problem (RFC 9457) and a log line; a malformed
/// request that ASP.NET itself rejects keeps its own status code. Never an unhandled exception.
/// </summary>
internal sealed partial class HttpErrorMiddleware(RequestDelegate next, ILogger<HttpErrorMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);

            // What routing and parameter binding answer with an empty body — 404 for no endpoint,
            // 405 for a method the path lacks (its Allow header kept), 400 for a missing route
            // value — gets the same RFC 9457 problem document as every other error of the edge.
            var response = context.Response;
            if (!response.HasStarted && response.StatusCode >= 400 && response.ContentType is null && response.ContentLength is null or 0)
            {
                await Problems.Create(response.StatusCode, EmptyErrorDetail(response.StatusCode, context.Request)).ExecuteAsync(context);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ConnectionResetException or ConnectionAbortedException && context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            await Problems.Create(ex.StatusCode, ex.Message).ExecuteAsync(context);
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            LogFailed(logger, ex, context.Request.Method, context.Request.Path);
            context.Response.Clear();
            await Problems.Create(StatusCodes.Status500InternalServerError, "The broker failed to handle the request; see its log.").ExecuteAsync(context);
        }
    }

    private static string EmptyErrorDetail(int status, HttpRequest request) => status switch
    {
        StatusCodes.Status404NotFound => $"No resource at {request.Path}; the API is under /api/v1 (see /openapi/v1.json).",
        StatusCodes.Status405MethodNotAllowed => $"{request.Method} is not allowed on {request.Path}; the Allow header lists the methods that are.",
        _ => $"The request to {request.Path} could not be handled as sent.",
    };

    [LoggerMessage(EventId = 20, Level = LogLevel.Error, Message = "HTTP {Method} {Path} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, string method, string path);
}

/// <summary>
/// One identity model with the other edges: a request without credentials is an anonymous client
/// (allowed as <c>Auth:AllowAnonymous</c> says), HTTP Basic credentials (RFC 7617) are checked
/// against the users file; over HTTPS a client certificate whose CN is the username is the
/// credential instead. <c>/healthz</c> is always open; <c>/mqtt</c> authenticates in its MQTT
/// CONNECT, as on TCP.
/// </summary>
internal sealed partial class HttpAuthMiddleware(RequestDelegate next, IAuthenticator authenticator, ILogger<HttpAuthMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (path.StartsWithSegments("/healthz") || path.StartsWithSegments("/mqtt"))
        {
            await next(context);
            return;
        }

        if (context.Features.Get<ClientCertificateIdentity>()?.Username is { } certificateUser)
        {
            // HTTPS with a client certificate whose CN is the username (Tls:UseCertificateCnAsUsername):
            // the certificate is the credential, as on the MQTT and AMQP TLS listeners.
            HttpAcl.SetUser(context, certificateUser);
            await next(context);
            return;
        }

        string? username = null;
        byte[]? password = null;
        var header = context.Request.Headers.Authorization.ToString();
        if (header.Length > 0)
        {
            if (!TryParseBasic(header, out username, out password))
            {
                await Refuse(context, "The Authorization header is not valid HTTP Basic credentials (RFC 7617).");
                return;
            }
        }

        var remote = context.Connection.RemoteIpAddress is { } ip ? new IPEndPoint(ip, context.Connection.RemotePort) : null;
        var result = await authenticator.AuthenticateAsync(
            new AuthRequest("http:" + context.Connection.Id, username, password, "http", remote), context.RequestAborted);
        if (result != AuthResult.Allowed)
        {
            LogRefused(logger, remote, username ?? "(anonymous)", result);
            await Refuse(context, username is null ? "Credentials are required (HTTP Basic)." : "Bad username or password.");
            return;
        }

        HttpAcl.SetUser(context, username);
        await next(context);
    }

    private static Task Refuse(HttpContext context, string detail)
    {
        context.Response.Headers.WWWAuthenticate = "Basic realm=\"cicada\", charset=\"UTF-8\"";
        return Problems.Create(StatusCodes.Status401Unauthorized, detail).ExecuteAsync(context);
    }

    internal static bool TryParseBasic(string header, out string? username, out byte[]? password)
    {
        username = null;
        password = null;
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        byte[] decoded;
        try
        {
            decoded = Convert.FromBase64String(header[6..].Trim());
        }
        catch (FormatException)
        {
            return false;
        }

        var colon = Array.IndexOf(decoded, (byte)':');
        if (colon <= 0)
        {
            return false;
        }

        try
        {
            username = new UTF8Encoding(false, true).GetString(decoded, 0, colon);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        password = decoded[(colon + 1)..];
        return true;
    }

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "HTTP request from {Remote} refused for {Username}: {Result}")]
    private static partial void LogRefused(ILogger logger, EndPoint? remote, string username, AuthResult result);
}

/// <summary>
/// Limits:MaxHttpRequestsPerSecond per client IP address: over it, 429 Too Many Requests with
/// Retry-After (RFC 6585 §4, RFC 9110 §10.2.3), before authentication so a flood costs no
/// password hashing. <c>/healthz</c> is exempt: probes must see a busy broker as alive.
/// </summary>
internal sealed class HttpRateLimitMiddleware(RequestDelegate next, ConnectionLimiter limiter)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (context.Request.Path.StartsWithSegments("/healthz"))
        {
            return next(context);
        }

        var remote = context.Connection.RemoteIpAddress is { } ip ? new IPEndPoint(ip, context.Connection.RemotePort) : null;
        if (limiter.AllowsRequest("http", remote, out var retryAfter))
        {
            return next(context);
        }

        return TooManyRequests(context, retryAfter, "Too many requests from this address (Limits:MaxHttpRequestsPerSecond).");
    }

    public static Task TooManyRequests(HttpContext context, int retryAfterSeconds, string detail)
    {
        context.Response.Headers.RetryAfter = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Problems.Create(StatusCodes.Status429TooManyRequests, detail).ExecuteAsync(context);
    }
}
