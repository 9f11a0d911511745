using System.Net;
using Microsoft.Extensions.Logging;

namespace Cicada.Coap;

/// <summary>The CoAP edge's log lines: one per listener event, one per bad input.</summary>
internal static partial class CoapLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "CoAP listening on udp {EndPoint}")]
    public static partial void Listening(ILogger logger, EndPoint endPoint);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "CoAP message from {Remote} rejected: {Rule} {Detail}")]
    public static partial void Malformed(ILogger logger, EndPoint remote, string rule, string detail);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "CoAP request from {Remote} failed ({Request})")]
    public static partial void RequestFailed(ILogger logger, Exception exception, EndPoint remote, string request);

    // Debug: the store logs the fault itself once per episode (disk full, read-only, locked), not once per refused request.
    [LoggerMessage(EventId = 9, Level = LogLevel.Debug, Message = "CoAP publish from {Remote} could not be stored; answered 5.03 ({Request})")]
    public static partial void PublishNotStored(ILogger logger, Exception exception, EndPoint remote, string request);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "CoAP observation {ClientId} of {Filter} from {Remote} registered")]
    public static partial void ObservationAdded(ILogger logger, string clientId, string filter, EndPoint remote);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "CoAP observation {ClientId} of {Filter} from {Remote} ended: {Reason}")]
    public static partial void ObservationRemoved(ILogger logger, string clientId, string filter, EndPoint remote, string reason);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "CoAP receive on {EndPoint} failed; the listener carries on")]
    public static partial void ReceiveFailed(ILogger logger, Exception exception, EndPoint endPoint);

    [LoggerMessage(EventId = 7, Level = LogLevel.Debug, Message = "CoAP send to {Remote} failed: {Error}")]
    public static partial void SendFailed(ILogger logger, EndPoint remote, string error);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information, Message = "CoAP request from {Remote} (client {ClientId}) refused: {Result}")]
    public static partial void Refused(ILogger logger, EndPoint remote, string clientId, Core.Auth.AuthResult result);

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "CoAP observation of {Filter} from {Remote} not added: {Limit} observations held (Coap:MaxObservations); answered as a plain GET")]
    public static partial void ObservationRefused(ILogger logger, EndPoint remote, string filter, int limit);
}
