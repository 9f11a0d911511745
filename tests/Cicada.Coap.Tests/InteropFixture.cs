using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

// The interop tests drive Linux tools (coap-client-notls, mosquitto clients) and signal the server.
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]

namespace Cicada.Coap.Tests;

/// <summary>
/// The real <c>cicada</c> process with CoAP and MQTT on free loopback ports, shared by the
/// interop tests (each uses its own topics); third-party clients talk to it.
/// </summary>
public sealed class InteropFixture : IDisposable
{
    private readonly StringBuilder _output = new();
    private readonly string _data = Path.Combine(Path.GetTempPath(), "cicada-coap-" + Guid.NewGuid().ToString("N"));
    private readonly Process _process;

    public InteropFixture()
    {
        CoapPort = FreeUdpPort();
        MqttPort = FreeTcpPort();
        Directory.CreateDirectory(_data);
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { ServerDll(), "--coap", $"127.0.0.1:{CoapPort}", "--mqtt", $"127.0.0.1:{MqttPort}",
            "--http", "off", "--amqp", "off", "--storage", "memory", "--data", _data })
        {
            psi.ArgumentList.Add(arg);
        }

        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (!WaitFor(() => Output.Contains(" started: ", StringComparison.Ordinal), TimeSpan.FromSeconds(30)))
        {
            throw new InvalidOperationException("the server did not start:\n" + Output);
        }
    }

    public int CoapPort { get; }
    public int MqttPort { get; }

    public string Uri(string pathAndQuery) => $"coap://127.0.0.1:{CoapPort}/{pathAndQuery}";

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    public static bool WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (condition())
            {
                return true;
            }

            Thread.Sleep(50);
        }

        return condition();
    }

    /// <summary>The server dll of the same configuration, found from the test assembly's path and the repository root.</summary>
    private static string ServerDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        var configuration = dir.Parent!.Name; // bin/<Configuration>/net10.0/
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Cicada.slnx")))
        {
            dir = dir.Parent;
        }

        if (dir is null)
        {
            throw new InvalidOperationException("Cicada.slnx not found above " + AppContext.BaseDirectory);
        }

        return Path.Combine(dir.FullName, "src", "Cicada.Server", "bin", configuration, "net10.0", "Cicada.Server.dll");
    }

    private static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                kill.WaitForExit();
                if (!_process.WaitForExit(15_000))
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
        }
        finally
        {
            _process.Dispose();
            try
            {
                Directory.Delete(_data, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>Runs a command-line client with a deadline.</summary>
internal sealed class Tool : IDisposable
{
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    public Tool(string fileName, params string[] args)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        Process = Process.Start(psi)!;
        Process.OutputDataReceived += (_, e) => Add(_stdout, e.Data);
        Process.ErrorDataReceived += (_, e) => Add(_stderr, e.Data);
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    private static void Add(StringBuilder builder, string? line)
    {
        if (line is not null)
        {
            lock (builder)
            {
                builder.AppendLine(line);
            }
        }
    }

    /// <summary>Waits for the tool to exit; returns stdout + stderr.</summary>
    public string Wait(int milliseconds = 20_000)
    {
        if (!Process.WaitForExit(milliseconds))
        {
            Process.Kill();
            throw new TimeoutException($"{Process.StartInfo.FileName} did not exit\n{Stdout}\n{Stderr}");
        }

        Process.WaitForExit(); // drain the readers
        return Stdout + Stderr;
    }

    public static string Run(string fileName, params string[] args)
    {
        using var tool = new Tool(fileName, args);
        return tool.Wait();
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill();
        }

        Process.Dispose();
    }
}
