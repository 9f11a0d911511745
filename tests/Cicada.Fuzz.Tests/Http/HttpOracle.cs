using System.Text;
using System.Text.Json;

namespace Cicada.Fuzz.Tests.Http;

/// <summary>
/// What a correct answer to a generated request looks like, written independently of the server's
/// code: no 5xx (the only 5xx a request may earn is a command's 504 when it asked to wait), every
/// 4xx an RFC 9457 problem document, and a topic URL meaning exactly the topic RFC 3986 says it does.
/// Returns null when the answer is acceptable, else why not.
/// </summary>
public static class HttpOracle
{
    /// <summary>The device registry's documented 404 envelope (README: Devices), the one 4xx that is not a problem document.</summary>
    public const string DeviceNotFound = """{"message":"Device not found","data":{}}""";

    public static string? Judge(HttpFuzzRequest request, RawHttpResponse response)
    {
        if (response.Status >= 500 && !(response.Status == 504 && request is { Target: HttpTarget.DeviceCommand, HasWait: true }))
        {
            return $"server error {response.Status}: {response.BodyText}";
        }

        if (response.Status is >= 400 and < 500 && ProblemError(request, response) is { } problem)
        {
            return problem;
        }

        return request.Target is HttpTarget.Publish or HttpTarget.GetRetained or HttpTarget.Clear ? TopicError(request, response) : null;
    }

    /// <summary>Kestrel's own refusal of a request it cannot parse (RFC 9112 §3: the connection is closed, no body).</summary>
    public static bool IsKestrelRejection(RawHttpResponse response) =>
        response.Status is 400 or 414 or 431 && response.Closes && response.Body.Length == 0;

    private static string? ProblemError(HttpFuzzRequest request, RawHttpResponse response)
    {
        if (IsKestrelRejection(response))
        {
            return null;
        }

        if (response.Status == 404 && request.Target is >= HttpTarget.DeviceCreate and <= HttpTarget.Gateway && response.BodyText == DeviceNotFound)
        {
            return null;
        }

        if (!response.ContentType.StartsWith("application/problem+json", StringComparison.OrdinalIgnoreCase))
        {
            return $"{response.Status} is not application/problem+json (RFC 9457 §3) but '{response.ContentType}': {response.BodyText}";
        }

        if (request.Method == "HEAD")
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(response.Body);
            return document.RootElement.TryGetProperty("status", out var status) && status.GetInt32() == response.Status
                ? null
                : $"problem document without the status {response.Status}: {response.BodyText}";
        }
        catch (JsonException ex)
        {
            return $"problem document is not JSON ({ex.Message}): {response.BodyText}";
        }
    }

    /// <summary>
    /// RFC 3986 §2.1/§2.4: the path's octets are percent-decoded once, <c>%2F</c> included (an
    /// encoded slash is data, and in a topic path the only meaning of a slash is the level
    /// separator); §2.5: the decoded octets are UTF-8, as MQTT topic names must be (MQTT-1.5.4-1);
    /// §5.2.4: dot segments are removed before routing, so a level named <c>.</c> or <c>..</c> cannot
    /// be addressed and must be refused, not silently become another topic.
    /// </summary>
    public static string? ExpectedTopic(string rawPath, out string? refusal)
    {
        refusal = null;
        if (rawPath.Split('/').Any(segment => segment.Replace("%2E", ".", StringComparison.OrdinalIgnoreCase) is "." or ".."))
        {
            refusal = "a dot segment (RFC 3986 §5.2.4)";
            return null;
        }

        var levels = new List<string>();
        foreach (var segment in rawPath.Split('/'))
        {
            var bytes = new List<byte>();
            for (var i = 0; i < segment.Length; i++)
            {
                if (segment[i] != '%')
                {
                    bytes.Add((byte)segment[i]);
                    continue;
                }

                if (i + 2 >= segment.Length || !Uri.IsHexDigit(segment[i + 1]) || !Uri.IsHexDigit(segment[i + 2]))
                {
                    refusal = "a '%' not followed by two hex digits (RFC 3986 §2.1)";
                    return null;
                }

                bytes.Add(Convert.ToByte(segment.Substring(i + 1, 2), 16));
                i += 2;
            }

            string level;
            try
            {
                level = new UTF8Encoding(false, true).GetString([.. bytes]);
            }
            catch (DecoderFallbackException)
            {
                refusal = "percent-encoded octets that are not UTF-8 (RFC 3986 §2.5)";
                return null;
            }

            if (level is "." or "..")
            {
                refusal = "a dot segment (RFC 3986 §5.2.4)";
                return null;
            }

            levels.Add(level);
        }

        var topic = string.Join('/', levels);
        if (topic.Length == 0 || topic.Contains('+') || topic.Contains('#') || topic.Contains('\0') || Encoding.UTF8.GetByteCount(topic) > 65_535)
        {
            refusal = "not an MQTT topic name (MQTT-4.7.1-1, MQTT-4.7.3-1)";
            return null;
        }

        return topic;
    }

    private static string? TopicError(HttpFuzzRequest request, RawHttpResponse response)
    {
        if (IsKestrelRejection(response) || response.Status is 401 or 403 or 405 or 413)
        {
            return null;
        }

        var expected = ExpectedTopic(request.TopicPath!, out var refusal);
        if (expected is null)
        {
            // A ".." may climb out of /topics/ before routing (RFC 3986 §5.2.4): then it is a request
            // for whatever resource the path ends at, judged by the general rules only.
            var climbed = refusal!.Contains("dot segment", StringComparison.Ordinal);
            return response.Status == 400 || climbed ? null : $"'{request.TopicPath}' has {refusal}: expected 400, got {response.Status}: {response.BodyText}";
        }

        if (response.Status == 400 && response.BodyText.Contains("\"field\":\"topic\"", StringComparison.Ordinal))
        {
            return $"'{request.TopicPath}' is the valid topic '{expected}', refused: {response.BodyText}";
        }

        if (request.Target == HttpTarget.Publish && response.Status == 200)
        {
            using var document = JsonDocument.Parse(response.Body);
            var topic = document.RootElement.GetProperty("topic").GetString();
            return topic == expected ? null : $"'{request.TopicPath}' published to '{topic}', not to '{expected}' (RFC 3986 §2.1)";
        }

        if (request.Target == HttpTarget.GetRetained && response.Status == 404)
        {
            using var document = JsonDocument.Parse(response.Body);
            var detail = document.RootElement.GetProperty("detail").GetString() ?? string.Empty;
            return detail.Contains($"'{expected}'", StringComparison.Ordinal) ? null : $"'{request.TopicPath}' looked up another topic than '{expected}': {detail}";
        }

        return null;
    }
}
