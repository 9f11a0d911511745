namespace Cicada.Http;

/// <summary>HTTP edge settings (configuration section <c>Http</c>).</summary>
public sealed class HttpOptions
{
    public const string Section = "Http";

    /// <summary><c>HOST:PORT</c> or <c>off</c>; REST, SSE, MQTT over WebSocket, metrics and the dashboard share it.</summary>
    public string Listen { get; set; } = "0.0.0.0:8080";

    /// <summary>Largest request body accepted (a published payload, a device); larger ones get 413.</summary>
    public long MaxBodySize { get; set; } = 1024 * 1024;

    /// <summary>Seconds between SSE keep-alive comments, so proxies and browsers keep an idle stream open.</summary>
    public int StreamKeepAliveSeconds { get; set; } = 15;

    /// <summary>Messages kept for SSE clients that reconnect with <c>Last-Event-ID</c>; 0 turns resume off.</summary>
    public int StreamReplayMessages { get; set; } = 1000;

    /// <summary>Oldest message, in seconds, kept for SSE resume; older ones are reported as a gap.</summary>
    public int StreamReplaySeconds { get; set; } = 300;
}
