using System.Buffers;
using Microsoft.AspNetCore.Http;

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
            return null;
        }

        var reader = request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (buffer.Length > limit)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                return null;
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
}
