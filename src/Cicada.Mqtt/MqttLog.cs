using System.Net;
using Microsoft.Extensions.Logging;

namespace Cicada.Mqtt;

/// <summary>The MQTT edge's log lines: one per connection event, one per bad input.</summary>
internal static partial class MqttLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "MQTT client {ClientId} connected from {Remote} (level {Level}, clean {Clean}, keep-alive {KeepAlive}s, session present {Present})")]
    public static partial void Connected(ILogger logger, string clientId, EndPoint? remote, byte level, bool clean, int keepAlive, bool present);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "MQTT client {ClientId} disconnected from {Remote}: {Reason}")]
    public static partial void Disconnected(ILogger logger, string clientId, EndPoint? remote, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "MQTT connection from {Remote} (client {ClientId}) closed: {Rule} {Detail}")]
    public static partial void ProtocolError(ILogger logger, EndPoint? remote, string clientId, string rule, string detail);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "MQTT CONNECT from {Remote} (client {ClientId}) refused: {Code}")]
    public static partial void Refused(ILogger logger, EndPoint? remote, string clientId, string code);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "MQTT connection from {Remote} (client {ClientId}) failed")]
    public static partial void Failed(ILogger logger, Exception exception, EndPoint? remote, string clientId);

    // Debug: the store logs the fault itself once per episode (disk full, read-only, locked), not once per refused message.
    [LoggerMessage(EventId = 6, Level = LogLevel.Debug, Message = "MQTT client {ClientId}: message {PacketId} could not be stored; refused with reason 0x80 instead of acknowledged")]
    public static partial void DurableWriteFailed(ILogger logger, Exception exception, string clientId, ushort packetId);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "MQTT client {ClientId} re-authenticated with {Method} as {Username}")]
    public static partial void Reauthenticated(ILogger logger, string clientId, string method, string username);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information, Message = "MQTT client {ClientId} refused: {Method} authenticated user {Authenticated}, but the connection is {Claimed}")]
    public static partial void AuthenticatedAsAnother(ILogger logger, string clientId, string method, string authenticated, string claimed);
}
