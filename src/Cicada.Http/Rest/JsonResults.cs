using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Cicada.Http.Rest;

/// <summary>
/// A JSON response written straight to the body with a <see cref="Utf8JsonWriter"/>: problem
/// documents and the device envelope carry free-form members (extra device fields, per-field
/// errors), which need no reflection this way.
/// </summary>
internal sealed class JsonWriterResult(int statusCode, string contentType, Action<Utf8JsonWriter> write) : IResult
{
    // Messages quote topics ('a/+'): relaxed escaping keeps them readable; the body is always
    // served as JSON, never embedded in HTML, which is what the default escaping guards against.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public int StatusCode => statusCode;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = statusCode;
        response.ContentType = contentType;
        await using (var writer = new Utf8JsonWriter(response.BodyWriter, WriterOptions))
        {
            write(writer);
        }

        await response.BodyWriter.FlushAsync(httpContext.RequestAborted);
    }
}

/// <summary>RFC 9457 problem details (<c>application/problem+json</c>) for every error the edge answers.</summary>
internal static class Problems
{
    public const string ContentType = "application/problem+json";

    /// <summary>
    /// A problem of type <c>about:blank</c> (RFC 9457 §4.2.1: the title is the status phrase) with a
    /// specific <paramref name="detail"/>; <paramref name="extensions"/> adds members (RFC 9457 §3.2).
    /// </summary>
    public static IResult Create(int status, string detail, Action<Utf8JsonWriter>? extensions = null) =>
        new JsonWriterResult(status, ContentType, w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "about:blank");
            w.WriteString("title", Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status));
            w.WriteNumber("status", status);
            w.WriteString("detail", detail);
            extensions?.Invoke(w);
            w.WriteEndObject();
        });

    public static IResult BadRequest(string detail) => Create(StatusCodes.Status400BadRequest, detail);

    /// <summary>400 naming the offending field, in the <c>errors</c> shape ASP.NET's validation problems use.</summary>
    public static IResult InvalidField(string field, string error, string? message = null) =>
        Create(StatusCodes.Status400BadRequest, $"{field}: {error}", w =>
        {
            w.WriteString("field", field);
            w.WriteStartObject("errors");
            w.WriteStartArray(field);
            w.WriteStringValue(error);
            w.WriteEndArray();
            w.WriteEndObject();
            if (message is not null)
            {
                // The device registry's envelope member, so its clients find a message either way.
                w.WriteString("message", message);
                w.WriteStartObject("data");
                w.WriteEndObject();
            }
        });

    public static IResult TooLarge(long limit) =>
        Create(StatusCodes.Status413PayloadTooLarge, $"The request body is larger than the limit of {limit} bytes (Http:MaxBodySize).");

    public static IResult NotFound(string detail) => Create(StatusCodes.Status404NotFound, detail);
}

/// <summary>The device registry's envelope: <c>{"message": …, "data": …}</c>.</summary>
internal static class Envelope
{
    public static IResult Create(int status, string message, JsonNode? data, Action<Utf8JsonWriter>? extra = null) =>
        new JsonWriterResult(status, "application/json; charset=utf-8", w =>
        {
            w.WriteStartObject();
            w.WriteString("message", message);
            w.WritePropertyName("data");
            if (data is null)
            {
                w.WriteStartObject();
                w.WriteEndObject();
            }
            else
            {
                data.WriteTo(w);
            }

            extra?.Invoke(w);
            w.WriteEndObject();
        });
}
