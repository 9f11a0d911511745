using System.Net;
using Cicada.Core.Auth;
using Cicada.Http.Rest;
using Cicada.Mqtt;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Http.WebSockets;

/// <summary>
/// <c>/mqtt</c>: MQTT over WebSocket (MQTT 3.1.1 §6, MQTT 5 §6), handled by the very same
/// <see cref="MqttConnectionHandler"/> as the TCP listener.
/// </summary>
internal static partial class MqttWebSocketEndpoint
{
    /// <summary>Subprotocols in our order of preference: <c>mqtt</c> (MQTT-6.0.0-3/4), <c>mqttv3.1</c> (MQTT 3.1 clients).</summary>
    private static readonly string[] Subprotocols = ["mqtt", "mqttv3.1"];

    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.Map("/mqtt", RunAsync).WithTags("MQTT")
            .WithSummary("MQTT 3.1/3.1.1 over WebSocket (subprotocol mqtt or mqttv3.1)");

    private static async Task RunAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            var headers = context.Request.Headers;
            if (headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase))
            {
                // An attempted handshake that is not a valid one: RFC 6455 §4.4, a version other than
                // 13 is told the versions we speak (426 + Sec-WebSocket-Version); §4.2.1, anything
                // else missing or malformed (Sec-WebSocket-Key, Connection) is a 400.
                if (headers.SecWebSocketVersion.ToString() != "13")
                {
                    context.Response.Headers.SecWebSocketVersion = "13";
                    await Problems.Create(StatusCodes.Status426UpgradeRequired,
                        "Only WebSocket version 13 is supported (RFC 6455 §4.4).").ExecuteAsync(context);
                    return;
                }

                await Problems.Create(StatusCodes.Status400BadRequest,
                    "Not a valid WebSocket handshake: it needs Connection: Upgrade and a Sec-WebSocket-Key of 16 octets in base64 (RFC 6455 §4.2.1).")
                    .ExecuteAsync(context);
                return;
            }

            context.Response.Headers.Upgrade = "websocket";
            await Problems.Create(StatusCodes.Status426UpgradeRequired,
                "This endpoint carries MQTT over WebSocket: open it with a WebSocket client offering the subprotocol 'mqtt'.").ExecuteAsync(context);
            return;
        }

        var offered = context.WebSockets.WebSocketRequestedProtocols;
        var chosen = Subprotocols.FirstOrDefault(p => offered.Contains(p, StringComparer.OrdinalIgnoreCase));
        if (chosen is null)
        {
            // MQTT-6.0.0-3: the client must offer "mqtt"; without it the handshake is refused.
            await Problems.Create(StatusCodes.Status400BadRequest,
                "Offer the WebSocket subprotocol 'mqtt' (or 'mqttv3.1') (MQTT-6.0.0-3).").ExecuteAsync(context);
            return;
        }

        // Answer with the spelling the client offered: some clients compare it exactly.
        chosen = offered.First(p => string.Equals(p, chosen, StringComparison.OrdinalIgnoreCase));
        var services = context.RequestServices;
        var handler = services.GetRequiredService<MqttConnectionHandler>();
        var maxPacket = services.GetRequiredService<IOptions<MqttOptions>>().Value.MaxPacketSize;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Cicada.Http.WebSocket");
        var metrics = services.GetRequiredService<Metrics.HttpMetrics>();

        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { SubProtocol = chosen });
        var connection = context.Connection;
        var remote = connection.RemoteIpAddress is { } ip ? new IPEndPoint(ip, connection.RemotePort) : null;
        var local = connection.LocalIpAddress is { } lip ? new IPEndPoint(lip, connection.LocalPort) : null;
        await using var adapter = new WebSocketConnection(socket, "ws-" + connection.Id, local, remote, maxPacket);
        if (context.Features.Get<ClientCertificateIdentity>() is { } certificate)
        {
            // WSS with a client certificate: the MQTT handler reads it as on the TLS listener.
            adapter.Features.Set(certificate);
        }

        LogOpened(logger, remote, chosen);
        metrics.WebSocketOpened();
        try
        {
            await adapter.RunAsync(handler);
        }
        finally
        {
            metrics.WebSocketClosed();
            LogClosed(logger, remote, adapter.AbortReason ?? "closed");
        }
    }

    [LoggerMessage(EventId = 40, Level = LogLevel.Debug, Message = "MQTT over WebSocket from {Remote} (subprotocol {Subprotocol})")]
    private static partial void LogOpened(ILogger logger, EndPoint? remote, string subprotocol);

    [LoggerMessage(EventId = 41, Level = LogLevel.Debug, Message = "MQTT over WebSocket from {Remote} ended: {Reason}")]
    private static partial void LogClosed(ILogger logger, EndPoint? remote, string reason);
}
