using System.Buffers;
using System.Net;
using Cicada.Core.Limits;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Cicada.Http.Rest;

internal static class RequestBody
{
    /// <summary>
    /// Reads the whole body, refusing it as soon as it exceeds <paramref name="limit"/>: a declared
    /// Content-Length over the limit is refused before reading, a chunked body once its bytes pass it.
    /// Returns null when too large.
    /// </summary>
    public static async Task<byte[]?> ReadAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            return TooLarge(request, limit);
        }

        var reader = request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (buffer.Length > limit)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                return TooLarge(request, limit);
            }

            if (result.IsCompleted)
            {
                var body = buffer.ToArray();
                reader.AdvanceTo(buffer.End);
                return body;
            }

            // Nothing consumed, everything examined: the next read returns once more has arrived.
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Counted in <c>cicada.limits.exceeded{limit="http-body-size"}</c> and logged (rate-limited) like every limit.</summary>
    private static byte[]? TooLarge(HttpRequest request, long limit)
    {
        var connection = request.HttpContext.Connection;
        request.HttpContext.RequestServices.GetService<ConnectionLimiter>()?.Refused("http-body-size", "http",
            connection.RemoteIpAddress is { } ip ? new IPEndPoint(ip, connection.RemotePort) : null,
            $"{request.Method} {request.Path}: body over {limit} bytes (Http:MaxBodySize)");
        return null;
    }
}
