using Cicada.Amqp;
using Cicada.Mqtt;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Cicada.Server.Hosting;

/// <summary>
/// The TLS listeners: MQTT (8883), AMQPS (5671) and HTTPS/WSS (8443). Each is the plain edge's
/// connection handler behind Kestrel's TLS middleware (<c>UseHttps</c>), with the one set of
/// <see cref="TlsSettings"/> (certificate, TLS 1.2/1.3, client certificates, CN as username), so
/// every protocol sees a client certificate the same way: a <c>ClientCertificateIdentity</c>
/// connection feature.
/// </summary>
public static partial class CicadaServer
{
    private static void ListenTls(KestrelServerOptions kestrel, ServerSettings settings)
    {
        if (settings.Tls is not { } tls)
            return;
        var logger = kestrel.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("Cicada.Tls");

        if (!settings.MqttTls.IsOff)
        {
            Listen(kestrel, settings.MqttTls, lo =>
            {
                // Kestrel's TLS middleware wraps any connection handler, not only HTTP's.
                lo.UseHttps(https => tls.Configure(https, logger, offerAlpn: false));
                tls.UseClientIdentity(lo, logger);
                lo.UseConnectionHandler<MqttConnectionHandler>();
            });
        }

        if (!settings.AmqpTls.IsOff)
        {
            // AMQPS is TLS first, then the AMQP protocol header (AMQP 0-9-1 §4.2.2 over a TLS
            // socket, as RabbitMQ serves it on 5671): no ALPN, the same connection handler.
            Listen(kestrel, settings.AmqpTls, lo =>
            {
                lo.UseHttps(https => tls.Configure(https, logger, offerAlpn: false));
                tls.UseClientIdentity(lo, logger);
                lo.UseConnectionHandler<AmqpConnectionHandler>();
            });
        }

        if (!settings.HttpTls.IsOff)
        {
            // The same HTTP app as the plain listener (REST, SSE, dashboard, /mqtt WebSocket):
            // Kestrel ends the pipeline with its HTTP handler, and ALPN offers h2 and http/1.1.
            Listen(kestrel, settings.HttpTls, lo =>
            {
                lo.UseHttps(https => tls.Configure(https, logger, offerAlpn: true));
                tls.UseClientIdentity(lo, logger);
            });
        }
    }

    /// <summary>One line naming the TLS listeners, after the start line (none when TLS is off).</summary>
    private static void LogTlsListeners(ILogger logger, ServerSettings settings)
    {
        if (settings.Tls is { } tls)
        {
            LogTlsStarted(logger, settings.MqttTls.ToString(), settings.AmqpTls.ToString(), settings.HttpTls.ToString(),
                tls.ClientCertificateMode.ToString().ToLowerInvariant(), tls.UseCertificateCnAsUsername);
        }
    }

    [LoggerMessage(EventId = 5, Level = LogLevel.Information,
        Message = "TLS listeners: mqtts {MqttTls}; amqps {AmqpTls}; https {HttpTls}; client certificates {ClientCertificateMode}; CN as username {CnAsUsername}")]
    private static partial void LogTlsStarted(ILogger logger, string mqttTls, string amqpTls, string httpTls, string clientCertificateMode, bool cnAsUsername);
}
