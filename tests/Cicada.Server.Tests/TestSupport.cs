using System.Collections;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Cicada.Server.Cli;
using Cicada.Server.Hosting;
using Microsoft.Extensions.Configuration;

// The suite drives Linux tools (mosquitto_passwd, kill, bash launchers) and checks Unix file modes.
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]

namespace Cicada.Server.Tests;

/// <summary>A fresh folder under the temp directory, deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cicada-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Runs the command line in-process with captured streams and a server stand-in that records what it was given.</summary>
internal sealed class CliHarness : IDisposable
{
    private readonly TempDirectory _baseDirectory = new();

    public StringWriter Out { get; } = new();
    public StringWriter Error { get; } = new();
    public Hashtable Environment { get; } = [];
    public string Input { get; set; } = string.Empty;

    /// <summary>Folder standing in for the one beside the binary (where appsettings.json is read).</summary>
    public string BaseDirectory => _baseDirectory.Path;

    public ServerSettings? Served { get; private set; }
    public IConfiguration? ServedConfiguration { get; private set; }

    public async Task<int> RunAsync(params string[] args)
    {
        var context = new CliContext
        {
            In = new StringReader(Input),
            Out = Out,
            Error = Error,
            Environment = Environment,
            BaseDirectory = BaseDirectory,
            InputIsTerminal = false,
            Serve = (settings, configuration, _) =>
            {
                Served = settings;
                ServedConfiguration = configuration;
                return Task.FromResult(0);
            },
        };
        return await CicadaCli.RunAsync(args, context);
    }

    public void Dispose() => _baseDirectory.Dispose();
}

internal static class Net
{
    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task<bool> CanConnectAsync(IPAddress address, int port)
    {
        using var client = new TcpClient(address.AddressFamily);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.ConnectAsync(address, port, timeout.Token);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}

internal static class Tools
{
    /// <summary>Runs a program to completion; returns exit code and output.</summary>
    public static (int ExitCode, string Output, string Error) Run(string fileName, params string[] args)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
            psi.ArgumentList.Add(arg);
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, output.Result, error.Result);
    }
}
