using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

// The suite drives Linux tools (curl, mosquitto clients, coap-client, python).
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]

namespace Cicada.Devices.Tests.Support;

/// <summary>The real <c>cicada</c> process with every edge (MQTT, HTTP, CoAP, AMQP) on free loopback ports.</summary>
public sealed class DeviceBroker : IAsyncLifetime
{
    private readonly StringBuilder _output = new();
    private Process? _process;
    private readonly string _data = Path.Combine(Path.GetTempPath(), "cicada-devices-tests-" + Guid.NewGuid().ToString("N"));

    public int MqttPort { get; } = TestPorts.FreeTcpPort();
    public int HttpPort { get; } = TestPorts.FreeTcpPort();
    public int AmqpPort { get; } = TestPorts.FreeTcpPort();
    public int CoapPort { get; } = TestPorts.FreeUdpPort();
    public string BaseUrl => $"http://127.0.0.1:{HttpPort}";
    public string Devices => BaseUrl + "/api/v1/devices";

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

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_data);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
        {
            Repository.ServerDll, "--mqtt", $"127.0.0.1:{MqttPort}", "--http", $"127.0.0.1:{HttpPort}", "--coap", $"127.0.0.1:{CoapPort}",
            "--amqp", $"127.0.0.1:{AmqpPort}", "--storage", "memory", "--data", _data,
        })
        {
            psi.ArgumentList.Add(arg);
        }

        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && !_process.HasExited)
        {
            try
            {
                using var response = await http.GetAsync(BaseUrl + "/healthz");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException("The broker did not start:\n" + Output);
    }

    public async Task DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            Tools.Run("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process?.Dispose();
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    /// <summary>curl returning the status and the parsed JSON body (default when empty).</summary>
    public static (int Status, JsonElement Json, string Headers) Send(string method, string url, string? json = null, params string[] extra)
    {
        string[] args = json is null
            ? ["-X", method, url, .. extra]
            : ["-X", method, url, "-H", "Content-Type: application/json", "--data-binary", json, .. extra];
        var (status, body, headers) = Tools.Curl(args);
        return (status, body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone(), headers);
    }

    public string Register(string id, string gateway = "gw-none", string extra = "")
    {
        var (status, json, _) = Send("POST", Devices,
            $$"""{"identifier":"{{id}}","name":"Device {{id}}","device_type":"light","controller_gateway":"{{gateway}}"{{extra}}}""");
        Assert.True(status == 201, $"register {id}: {status} {json}");
        return id;
    }

    public JsonElement Device(string id) => Send("GET", $"{Devices}/{id}").Json.GetProperty("data");

    /// <summary>mosquitto_sub printing <c>topic payload</c> lines; waits until the broker has the subscription.</summary>
    public async Task<RunningTool> SubscribeAsync(string filter, string? clientId = null, string version = "311")
    {
        clientId ??= "sub-" + Guid.NewGuid().ToString("N")[..10];
        var tool = Tools.Start("mosquitto_sub", ["-h", "127.0.0.1", "-p", MqttPort.ToString(CultureInfo.InvariantCulture), "-V", version,
            "-i", clientId, "-q", "1", "-v", "-t", filter]);
        Assert.True(await WaitUntil(() => Tools.Curl($"{BaseUrl}/api/v1/subscriptions").Body.Contains(clientId, StringComparison.Ordinal)),
            "mosquitto_sub never subscribed");
        return tool;
    }

    public static string NewId(string prefix = "dev") => prefix + "-" + Guid.NewGuid().ToString("N")[..10];

    public static async Task<bool> WaitUntil(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (DateTime.UtcNow < deadline)
        {
            if (condition())
            {
                return true;
            }

            await Task.Delay(50);
        }

        return condition();
    }
}

internal static class Repo
{
    public static string Clients { get; } = Path.Combine(Repository.Root, "tests", "Cicada.Devices.Tests", "clients");
}
