using Cicada.Coap.Protocol;
using Cicada.Devices;

namespace Cicada.Coap;

/// <summary>
/// Device commands over CoAP: <c>POST coap://host/devices/{id}/commands/{name}</c> publishes the
/// payload as the device's command (as the REST API does). It answers 2.04 at once, or with
/// <c>?wait=5s</c> waits for the device's reply: 2.05 with the reply's payload, or 5.04 Gateway
/// Timeout. A wait longer than ACK_TIMEOUT turns into a separate response (RFC 7252 §5.2.2),
/// which the exchange handling already does for any slow request.
/// </summary>
public sealed partial class CoapServer
{
    /// <summary>Path prefix of the device resources: <c>coap://host/devices/{id}/commands/{name}</c>.</summary>
    public const string DevicesPrefix = "devices";

    private const byte GatewayTimeout = 0xA4; // 5.04, RFC 7252 §5.9.3.5

    private async Task<CoapMessage> DeviceCommandAsync(RequestContext context, string identifier, string name)
    {
        var request = context.Request;
        if (_commands is null)
        {
            return Error(request, CoapCode.NotFound, "devices are not available");
        }

        if (request.Code != CoapCode.Post)
        {
            return Error(request, CoapCode.MethodNotAllowed, "POST only");
        }

        if (await AuthenticateAsync(context) is { } authError)
        {
            return authError;
        }

        TimeSpan? wait = null;
        if (context.Query.TryGetValue("wait", out var waitText))
        {
            if (!DeviceCommands.TryParseWait(waitText, out var parsed))
            {
                return Error(request, CoapCode.BadRequest, "wait must be a duration such as 5s");
            }

            wait = parsed;
        }

        if (AuthorizeCommand(context, identifier, command: name, waits: wait is not null) is { } denied)
        {
            return denied;
        }

        string? contentType = null;
        if (request.GetUInt(CoapOptionNumber.ContentFormat) is { } cf && (contentType = ContentFormats.ToMediaType(cf)) is null)
        {
            return Error(request, CoapCode.UnsupportedContentFormat, $"content-format {cf} unknown");
        }

        var body = ReceiveBody(context, out var blockResponse);
        if (blockResponse is not null)
        {
            return blockResponse;
        }

        var result = await _commands.SendAsync(identifier, name, body, contentType, wait, CancellationToken.None);
        switch (result.Outcome)
        {
            case CommandOutcome.UnknownDevice:
                return Error(request, CoapCode.NotFound, "no such device");
            case CommandOutcome.InvalidName:
                return Error(request, CoapCode.BadRequest, "a command name is one topic level");
            case CommandOutcome.UnknownCommand:
                return Error(request, CoapCode.BadRequest, "the device announces no such command");
            case CommandOutcome.TimedOut:
                return Error(request, GatewayTimeout, "the device did not reply in time");
            case CommandOutcome.Replied:
                var reply = result.Reply!;
                var response = CoapMessage.ResponseTo(request, CoapCode.Content);
                if (ContentFormats.FromMediaType(reply.Properties?.ContentType) is { } format)
                {
                    response.AddUInt(CoapOptionNumber.ContentFormat, format);
                }

                return WithBody(context, response, reply.Payload, Convert.FromHexString(result.CorrelationId![..16]));
            default:
                // The response topic, so a client can observe the reply itself (GET+Observe /ps/{topic}).
                var accepted = CoapMessage.ResponseTo(request, CoapCode.Changed);
                accepted.Payload = System.Text.Encoding.UTF8.GetBytes(result.ResponseTopic!);
                return accepted;
        }
    }
}
