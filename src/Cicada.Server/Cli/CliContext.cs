using System.Collections;
using Cicada.Server.Hosting;

namespace Cicada.Server.Cli;

/// <summary>
/// Everything the command line touches outside itself, so tests can run it in-process with their
/// own streams, environment and server stand-in.
/// </summary>
public sealed class CliContext
{
    public required TextReader In { get; init; }
    public required TextWriter Out { get; init; }
    public required TextWriter Error { get; init; }

    /// <summary>Environment variables; only <c>CICADA_*</c> are read.</summary>
    public required IDictionary Environment { get; init; }

    /// <summary>Folder searched for <c>appsettings.json</c>.</summary>
    public required string BaseDirectory { get; init; }

    /// <summary>True when standard input is a terminal, so a password can be asked for without echo.</summary>
    public bool InputIsTerminal { get; init; }

    /// <summary>Runs the broker with checked settings; returns the exit code.</summary>
    public Func<ServerSettings, IConfiguration, CancellationToken, Task<int>> Serve { get; init; } = CicadaServer.RunAsync;

    public static CliContext FromProcess() => new()
    {
        In = Console.In,
        Out = Console.Out,
        Error = Console.Error,
        Environment = System.Environment.GetEnvironmentVariables(),
        BaseDirectory = AppContext.BaseDirectory,
        InputIsTerminal = !Console.IsInputRedirected,
    };
}
