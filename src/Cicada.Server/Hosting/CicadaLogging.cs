using System.Text.Json;
using Microsoft.Extensions.Logging.Console;

namespace Cicada.Server.Hosting;

/// <summary>
/// Console logging: one line per event, UTC timestamps, levels per category from
/// <c>Logging:LogLevel:*</c> (as every .NET host reads them), and the line format chosen by
/// <c>Logging:Format</c> (<c>--log-format</c>): <c>text</c> for people, <c>json</c> for log shippers.
/// </summary>
public static class CicadaLogging
{
    public const string FormatKey = "Logging:Format";
    public const string Text = "text";
    public const string Json = "json";
    public const string FormatNames = "text, json";

    /// <summary>Reads a format name; an absent one means text.</summary>
    public static bool TryParseFormat(string? value, out bool json)
    {
        var name = value?.Trim();
        json = string.Equals(name, Json, StringComparison.OrdinalIgnoreCase);
        return value is null || json || string.Equals(name, Text, StringComparison.OrdinalIgnoreCase);
    }

    public static void Configure(ILoggingBuilder logging, IConfiguration configuration)
    {
        logging.AddConfiguration(configuration.GetSection("Logging"));
        TryParseFormat(configuration[FormatKey], out var json);
        if (json)
        {
            logging.AddJsonConsole(o =>
            {
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                o.JsonWriterOptions = new JsonWriterOptions { Indented = false };
            });

            // Under systemd the host switches the console to its journald format; JSON asked for
            // explicitly wins (PostConfigure runs after every Configure).
            logging.Services.PostConfigure<ConsoleLoggerOptions>(o => o.FormatterName = ConsoleFormatterNames.Json);
        }
        else
        {
            // Under systemd, AddSystemd replaces this formatter by its own (priority prefixes, no
            // timestamp: journald stamps each line).
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                o.ColorBehavior = LoggerColorBehavior.Disabled;
            });
        }
    }
}
