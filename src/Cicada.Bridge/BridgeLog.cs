using Microsoft.Extensions.Logging;

namespace Cicada.Bridge;

/// <summary>The bridge's log lines (category <c>Cicada.Bridge.Bridge</c>): one per connect, one per disconnect with its reason.</summary>
internal static partial class BridgeLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "Bridge {Bridge} connected to {Remote} as {ClientId} (MQTT {Version}, clean session {CleanSession}, session present {SessionPresent})")]
    public static partial void Connected(ILogger logger, string bridge, string remote, string clientId, string version, bool cleanSession, bool sessionPresent);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning,
        Message = "Bridge {Bridge} disconnected from {Remote}: {Reason}; reconnecting in {DelaySeconds:0.#} s")]
    public static partial void Disconnected(ILogger logger, string bridge, string remote, string reason, double delaySeconds);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning,
        Message = "Bridge {Bridge} could not connect to {Remote}: {Reason}; retrying in {DelaySeconds:0.#} s")]
    public static partial void ConnectFailed(ILogger logger, string bridge, string remote, string reason, double delaySeconds);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Bridge {Bridge} disconnected from {Remote}: {Reason}")]
    public static partial void Stopped(ILogger logger, string bridge, string remote, string reason);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Bridge {Bridge} to {Remote}: topics {Topics}")]
    public static partial void Configured(ILogger logger, string bridge, string remote, string topics);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning,
        Message = "Bridge {Bridge} does not verify the certificate of {Remote} (TlsInsecureSkipVerify): for development only")]
    public static partial void InsecureTls(ILogger logger, string bridge, string remote);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "Bridge {Bridge}: {Remote} refused the subscription to {Filter} (code 0x{Code:X2})")]
    public static partial void SubscriptionRefused(ILogger logger, string bridge, string remote, string filter, byte code);

    [LoggerMessage(EventId = 8, Level = LogLevel.Debug, Message = "Bridge {Bridge}: message on {Topic} not forwarded: {Reason}")]
    public static partial void Skipped(ILogger logger, string bridge, string topic, string reason);

    [LoggerMessage(EventId = 9, Level = LogLevel.Debug,
        Message = "Bridge {Bridge} forwarding: {Resent} in-flight message(s) re-sent, subscribed at {Remote} to {Filters}")]
    public static partial void Ready(ILogger logger, string bridge, int resent, string remote, string filters);

    [LoggerMessage(EventId = 10, Level = LogLevel.Error, Message = "Bridge {Bridge}: sending to the remote failed ({Reason}); reconnecting")]
    public static partial void DrainFailed(ILogger logger, string bridge, string reason);
}
