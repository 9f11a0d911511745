using System.Buffers;
using System.Text;
using System.Text.Json;
using Cicada.Core;
using Cicada.Core.Sessions;
using Cicada.Core.Topics;
using Cicada.Http.Rest;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Http.Streaming;

/// <summary>
/// <c>GET /api/v1/stream?filter=…</c>: Server-Sent Events (WHATWG HTML §9.2) of the messages
/// matching one or more MQTT filters. Each stream is a Core session (client id <c>sse:&lt;guid&gt;</c>,
/// QoS 0, not persistent), so it gets exactly what an MQTT subscriber with the same filters gets,
/// through the same bounded queue (a slow reader loses the oldest messages, never stalls publishers).
/// </summary>
internal static partial class StreamEndpoint
{
    public static void Map(RouteGroupBuilder api) =>
        api.MapGet("/stream", RunAsync).WithTags("Stream")
            .WithSummary("Server-Sent Events of live messages matching ?filter= (repeatable, default #); ?retained=true sends matching retained messages first")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .ProducesProblem(StatusCodes.Status400BadRequest);

    private static async Task RunAsync(HttpContext context, Broker broker, SseReplayBuffer replay, IOptions<HttpOptions> options, ILoggerFactory loggers)
    {
        var query = context.Request.Query;
        var filters = query["filter"].Where(f => !string.IsNullOrEmpty(f)).Select(f => f!).Distinct(StringComparer.Ordinal).ToList();
        if (filters.Count == 0)
        {
            filters.Add("#");
        }

        foreach (var filter in filters)
        {
            if (!TopicValidator.IsValidTopicFilter(filter))
            {
                await Problems.InvalidField("filter", $"'{filter}' is not an MQTT topic filter (MQTT-4.7.1-2, MQTT-4.7.1-3)").ExecuteAsync(context);
                return;
            }
        }

        if (filters.Select(f => HttpAcl.CheckRead(context, f)).FirstOrDefault(r => r is not null) is { } denied)
        {
            await denied.ExecuteAsync(context);
            return;
        }

        var retained = false;
        if (query["retained"].ToString() is { Length: > 0 } retainedText && !Rest.TopicEndpoints.TryParseFlag(retainedText, out retained))
        {
            await Problems.InvalidField("retained", "must be true or false").ExecuteAsync(context);
            return;
        }

        var response = context.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // proxies: do not buffer an event stream
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        var logger = loggers.CreateLogger("Cicada.Http.Stream");
        using var subscriber = new SseSubscriber(context.RequestAborted);
        var clientId = "sse:" + Guid.NewGuid().ToString("N");
        var remote = context.Connection.RemoteIpAddress is { } ip ? new System.Net.IPEndPoint(ip, context.Connection.RemotePort) : null;
        var link = broker.Connect(clientId, cleanStart: true, persistent: false, subscriber, will: null, "sse", remote).Link;
        LogOpened(logger, clientId, remote, string.Join(' ', filters));
        try
        {
            var subscription = new SubscriptionOptions(QoS.AtMostOnce);
            foreach (var filter in filters)
            {
                await broker.SubscribeAsync(link, filter, subscription);
            }

            // The retry hint and a first comment: the client sees the stream open at once.
            await response.WriteAsync($"retry: 2000\n: subscribed {string.Join(' ', filters)}\n\n", context.RequestAborted);
            await response.Body.FlushAsync(context.RequestAborted);
            var lastEventId = LastEventId(context);
            HashSet<long>? replayed = null;
            if (lastEventId is not null)
            {
                replayed = await ResumeAsync(context, replay, lastEventId, filters);
            }
            else if (retained)
            {
                foreach (var filter in filters)
                {
                    broker.DeliverRetained(link, filter, subscription);
                }
            }

            await PumpAsync(context, broker, replay, replayed, link.Session, subscriber, TimeSpan.FromSeconds(Math.Max(1, options.Value.StreamKeepAliveSeconds)));
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The client went away, or Core closed the stream (session taken over, shutdown).
        }
        finally
        {
            broker.Disconnect(link, publishWill: false);
            LogClosed(logger, clientId, subscriber.CloseReason ?? "client left");
        }
    }

    private static async Task PumpAsync(HttpContext context, Broker broker, SseReplayBuffer replay, HashSet<long>? replayed, Session session,
        SseSubscriber subscriber, TimeSpan keepAlive)
    {
        var output = context.Response.BodyWriter;
        var token = subscriber.Closed;
        while (!token.IsCancellationRequested)
        {
            var written = 0;
            var now = broker.Time.GetUtcNow();

            // All deliveries are QoS 0 (the subscription's maximum); the guard keeps a future
            // change from leaving one in flight forever.
            while (written < 256 && session.TryTakeNext(int.MaxValue, now, out var delivery, out var id))
            {
                if (id != 0)
                {
                    session.Complete(id);
                }

                // Retained messages sent on request are state, not part of the sequence: no id.
                var eventId = delivery.Retain ? 0 : replay.IdOf(delivery.Message);
                if (replayed is not null && replayed.Contains(eventId))
                {
                    continue; // already sent from the replay buffer
                }

                WriteEvent(output, replay, eventId, delivery.Message, delivery.Retain, delivery.Qos);
                written++;
            }

            if (written > 0)
            {
                broker.Metrics.MessagesSent.Add(written);
                await output.FlushAsync(token);
                continue;
            }

            if (!await subscriber.WaitAsync(keepAlive))
            {
                // RFC-less but standard practice: a comment line keeps idle proxies from closing the stream.
                output.Write(": keep-alive\n\n"u8);
                await output.FlushAsync(token);
            }
        }
    }

    private static void WriteEvent(System.IO.Pipelines.PipeWriter output, SseReplayBuffer replay, long id, Message message, bool retain, QoS qos)
    {
        var info = MessageInfo.From(message, retain, qos);
        if (id != 0)
        {
            output.Write("id: "u8);
            output.Write(Encoding.ASCII.GetBytes(replay.Format(id)));
            output.Write("\n"u8);
        }

        output.Write("event: message\ndata: "u8);

        // JSON never contains a raw newline, so the data is one line, as SSE requires.
        using (var writer = new Utf8JsonWriter(output))
        {
            JsonSerializer.Serialize(writer, info, HttpJsonContext.Default.MessageInfo);
        }

        output.Write("\n\n"u8);
    }

    [LoggerMessage(EventId = 30, Level = LogLevel.Debug, Message = "SSE stream {ClientId} opened from {Remote}: {Filters}")]
    private static partial void LogOpened(ILogger logger, string clientId, System.Net.EndPoint? remote, string filters);

    [LoggerMessage(EventId = 31, Level = LogLevel.Debug, Message = "SSE stream {ClientId} closed: {Reason}")]
    private static partial void LogClosed(ILogger logger, string clientId, string reason);
}

/// <summary>Core's view of an SSE stream: wake-ups become a signal the request's loop awaits.</summary>
internal sealed class SseSubscriber : IClientConnection, IDisposable
{
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly CancellationTokenSource _closed;

    public SseSubscriber(CancellationToken requestAborted) =>
        _closed = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);

    public CancellationToken Closed => _closed.Token;

    public string? CloseReason { get; private set; }

    public void OnDeliveriesPending()
    {
        try
        {
            if (_signal.CurrentCount == 0)
            {
                _signal.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Already signalled: one wake-up drains everything.
        }
    }

    /// <summary>True when signalled, false on timeout; throws when the stream is closed.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout) => _signal.WaitAsync(timeout, _closed.Token);

    public void Close(Core.Sessions.CloseReason reason)
    {
        CloseReason = reason == Core.Sessions.CloseReason.SessionTakenOver ? "session taken over" : "server shutting down";
        _closed.Cancel();
    }

    public void Dispose()
    {
        _closed.Dispose();
        _signal.Dispose();
    }
}
