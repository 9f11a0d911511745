using System.Buffers;
using System.Text.Json;
using Cicada.Core;
using Microsoft.AspNetCore.Http;

namespace Cicada.Http.Streaming;

/// <summary>Resuming a stream after a reconnect: replay from <see cref="SseReplayBuffer"/>.</summary>
internal static partial class StreamEndpoint
{
    /// <summary>
    /// The id the client saw last: the <c>Last-Event-ID</c> header a reconnecting EventSource sends
    /// (WHATWG HTML §9.2.4), or <c>?last_event_id=</c> for a first connection that resumes an
    /// earlier one (EventSource cannot set headers, curl users may prefer the query).
    /// </summary>
    private static string? LastEventId(HttpContext context)
    {
        var header = context.Request.Headers["Last-Event-ID"].ToString();
        if (header.Length > 0)
        {
            return header;
        }

        var query = context.Request.Query["last_event_id"].ToString();
        return query.Length > 0 ? query : null;
    }

    /// <summary>
    /// Sends what the client missed, after its subscriptions exist (so nothing falls between the
    /// replay and the live feed), and returns the replayed ids for the live pump to skip. When the
    /// id is unknown or messages after it are gone, a <c>gap</c> event says so first.
    /// </summary>
    private static async Task<HashSet<long>> ResumeAsync(HttpContext context, SseReplayBuffer replay, string lastEventId, IReadOnlyList<string> filters)
    {
        var output = context.Response.BodyWriter;
        var sent = new HashSet<long>();
        List<(long Id, Message Message)> missed;
        string? reason;
        long oldest;
        if (!replay.TryParse(lastEventId, out var after))
        {
            // Another run's id (the broker restarted) or not one of ours: everything is unknown.
            missed = replay.After(long.MaxValue, filters, out _, out oldest);
            reason = "unknown-id";
        }
        else
        {
            missed = replay.After(after, filters, out var complete, out oldest);
            reason = complete ? null : replay.Enabled ? "expired" : "disabled";
        }

        if (reason is not null)
        {
            WriteGap(output, reason, lastEventId, replay.Format(oldest));
        }

        foreach (var (id, message) in missed)
        {
            WriteEvent(output, replay, id, message, retain: false, QoS.AtMostOnce);
            sent.Add(id);
        }

        await output.FlushAsync(context.RequestAborted);
        return sent;
    }

    /// <summary>
    /// <c>event: gap</c>: messages after <paramref name="lastEventId"/> may be missing (too old for the
    /// replay buffer, dropped, or from a previous run); the client should re-read state (retained
    /// messages, device state) instead of trusting its feed to be complete.
    /// </summary>
    private static void WriteGap(System.IO.Pipelines.PipeWriter output, string reason, string lastEventId, string oldestEventId)
    {
        output.Write("event: gap\ndata: "u8);
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            writer.WriteString("reason", reason);
            writer.WriteString("last_event_id", lastEventId);
            writer.WriteString("oldest_event_id", oldestEventId);
            writer.WriteEndObject();
        }

        output.Write("\n\n"u8);
    }
}
