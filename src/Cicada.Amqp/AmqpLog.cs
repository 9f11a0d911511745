using System.Net;
using Microsoft.Extensions.Logging;

namespace Cicada.Amqp;

/// <summary>The AMQP edge's log lines: one per connection event, one per bad input.</summary>
internal static partial class AmqpLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "AMQP connection from {Remote} opened (user {User}, frame-max {FrameMax}, heartbeat {Heartbeat}s)")]
    public static partial void Opened(ILogger logger, EndPoint? remote, string user, uint frameMax, int heartbeat);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "AMQP connection from {Remote} closed: {Reason}")]
    public static partial void Closed(ILogger logger, EndPoint? remote, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "AMQP connection from {Remote} closed with {Code}: {Text}")]
    public static partial void ConnectionError(ILogger logger, EndPoint? remote, ushort code, string text);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "AMQP channel {Channel} from {Remote} closed with {Code}: {Text}")]
    public static partial void ChannelError(ILogger logger, EndPoint? remote, ushort channel, ushort code, string text);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "AMQP connection from {Remote} failed")]
    public static partial void Failed(ILogger logger, Exception exception, EndPoint? remote);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "AMQP connection from {Remote} sent protocol header {Header}: answered with AMQP 0-9-1's and closed")]
    public static partial void BadHeader(ILogger logger, EndPoint? remote, string header);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "AMQP login from {Remote} refused for user {User} ({Mechanism})")]
    public static partial void LoginRefused(ILogger logger, EndPoint? remote, string user, string mechanism);
}
