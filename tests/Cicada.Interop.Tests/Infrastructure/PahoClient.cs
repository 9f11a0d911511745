using System.Globalization;
using System.Text.Json;

namespace Cicada.Interop.Tests.Infrastructure;

/// <summary>
/// Drives the Eclipse Paho Python client (Debian's python3-paho-mqtt 1.6.1, so always
/// <c>/usr/bin/python3</c>) through a small script that prints one JSON object per event.
/// </summary>
public static class PahoClient
{
    private const string Python = "/usr/bin/python3";

    private const string Script = """
        import argparse, json, sys, time
        import paho.mqtt.client as mqtt

        p = argparse.ArgumentParser()
        p.add_argument("mode", choices=["sub", "pub", "connect"])
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--version", default="311")
        p.add_argument("--id", default="")
        p.add_argument("--clean", type=int, default=1)
        p.add_argument("--topic", default="")
        p.add_argument("--qos", type=int, default=0)
        p.add_argument("--retain", type=int, default=0)
        p.add_argument("--count", type=int, default=0)
        p.add_argument("--message", action="append", default=[])
        p.add_argument("--user")
        p.add_argument("--password")
        p.add_argument("--timeout", type=float, default=30)
        a = p.parse_args()

        import threading
        emit_lock = threading.Lock()

        def emit(**kw):
            # Callbacks run on paho's network thread, the rest on the main one: whole lines only.
            with emit_lock:
                sys.stdout.write(json.dumps(kw) + "\n")
                sys.stdout.flush()

        proto = mqtt.MQTTv31 if a.version == "31" else mqtt.MQTTv311
        c = mqtt.Client(client_id=a.id, clean_session=bool(a.clean), protocol=proto)
        if a.user is not None:
            c.username_pw_set(a.user, a.password)
        state = {"rc": None, "received": 0, "subscribed": False}

        def on_connect(cl, userdata, flags, rc):
            emit(event="connack", rc=rc, session_present=int(flags.get("session present", 0)))
            state["rc"] = rc
            if rc == 0 and a.mode == "sub":
                cl.subscribe(a.topic, a.qos)

        def on_subscribe(cl, userdata, mid, granted):
            emit(event="suback", granted=list(granted))
            state["subscribed"] = True

        def on_message(cl, userdata, m):
            emit(event="message", topic=m.topic, payload=m.payload.decode("utf-8", "replace"), qos=m.qos, retain=int(m.retain))
            state["received"] += 1

        c.on_connect = on_connect
        c.on_subscribe = on_subscribe
        c.on_message = on_message
        deadline = time.time() + a.timeout
        c.connect("127.0.0.1", a.port, keepalive=60)
        c.loop_start()
        while state["rc"] is None and time.time() < deadline:
            time.sleep(0.01)
        if state["rc"] != 0 or a.mode == "connect":
            c.disconnect()
            c.loop_stop()
            sys.exit(0 if state["rc"] is not None else 3)
        if a.mode == "pub":
            for body in a.message:
                info = c.publish(a.topic, body, a.qos, bool(a.retain))
                info.wait_for_publish(max(0.1, deadline - time.time()))
                if not info.is_published():
                    emit(event="timeout")
                    sys.exit(2)
                emit(event="published", mid=info.mid)
            c.disconnect()
            c.loop_stop()
            sys.exit(0)
        while (not state["subscribed"] or state["received"] < a.count) and time.time() < deadline:
            time.sleep(0.01)
        c.disconnect()
        c.loop_stop()
        sys.exit(0 if state["subscribed"] and state["received"] >= a.count else 2)
        """;

    private static readonly Lazy<string> ScriptPath = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"cicada-it-paho-{Environment.ProcessId}.py");
        File.WriteAllText(path, Script);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(path);
        return path;
    });

    public static async Task PublishAsync(int port, string topic, IEnumerable<string> messages, int qos = 0, bool retain = false, MqttVersion version = MqttVersion.V311)
    {
        var arguments = BaseArguments("pub", port, version, TestNames.ClientId("paho"), cleanSession: true);
        arguments.AddRange(["--topic", topic, "--qos", Invariant(qos), "--retain", retain ? "1" : "0"]);
        foreach (var message in messages)
        {
            arguments.AddRange(["--message", message]);
        }

        var result = await ExternalProcess.RunAsync(Python, arguments, Timeouts.ExternalClient + TimeSpan.FromSeconds(5));
        Assert.True(result.ExitCode == 0, $"paho publisher failed: {result}");
        Assert.Equal(0, ConnAck(result.StandardOutput).ReturnCode);
    }

    /// <summary>Connects, prints the CONNACK and disconnects.</summary>
    public static async Task<(int ReturnCode, bool SessionPresent)> ConnectAsync(
        int port, MqttVersion version = MqttVersion.V311, string? clientId = null, bool cleanSession = true, string? user = null, string? password = null)
    {
        var arguments = BaseArguments("connect", port, version, clientId ?? TestNames.ClientId("paho"), cleanSession);
        AddCredentials(arguments, user, password);
        var result = await ExternalProcess.RunAsync(Python, arguments, Timeouts.ExternalClient + TimeSpan.FromSeconds(5));
        Assert.True(result.ExitCode == 0, $"paho got no CONNACK: {result}");
        return ConnAck(result.StandardOutput);
    }

    /// <summary>Starts a subscriber expecting <paramref name="count"/> messages; returns once SUBACK arrived.</summary>
    public static async Task<PahoSubscriber> SubscribeAsync(
        int port, string topic, int qos, int count, MqttVersion version = MqttVersion.V311, string? clientId = null, bool cleanSession = true)
    {
        var arguments = BaseArguments("sub", port, version, clientId ?? TestNames.ClientId("paho"), cleanSession);
        arguments.AddRange(["--topic", topic, "--qos", Invariant(qos), "--count", Invariant(count)]);
        var process = ExternalProcess.Start(Python, arguments);
        var subscriber = new PahoSubscriber(process);
        try
        {
            var line = await process.WaitForLineAsync(l => l.Contains("\"suback\"", StringComparison.Ordinal), Timeouts.ExternalClient, "SUBACK from paho");
            using var suback = JsonDocument.Parse(line);
            subscriber.GrantedQoS = [.. suback.RootElement.GetProperty("granted").EnumerateArray().Select(e => e.GetInt32())];
            subscriber.ConnAck = ConnAck(process.StandardOutputLines);
            return subscriber;
        }
        catch
        {
            await subscriber.DisposeAsync();
            throw;
        }
    }

    internal static (int ReturnCode, bool SessionPresent) ConnAck(IEnumerable<string> lines)
    {
        var line = lines.FirstOrDefault(l => l.Contains("\"connack\"", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("paho printed no CONNACK.");
        using var json = JsonDocument.Parse(line);
        return (json.RootElement.GetProperty("rc").GetInt32(), json.RootElement.GetProperty("session_present").GetInt32() == 1);
    }

    internal static ReceivedMessage? ParseMessage(string line)
    {
        if (!line.Contains("\"message\"", StringComparison.Ordinal))
        {
            return null;
        }

        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        return new ReceivedMessage(
            root.GetProperty("topic").GetString()!,
            root.GetProperty("payload").GetString()!,
            root.GetProperty("qos").GetInt32(),
            root.GetProperty("retain").GetInt32() == 1);
    }

    private static List<string> BaseArguments(string mode, int port, MqttVersion version, string clientId, bool cleanSession) =>
    [
        ScriptPath.Value, mode, "--port", Invariant(port), "--version", version == MqttVersion.V31 ? "31" : "311",
        "--id", clientId, "--clean", cleanSession ? "1" : "0", "--timeout", Invariant((int)Timeouts.ExternalClient.TotalSeconds),
    ];

    private static void AddCredentials(List<string> arguments, string? user, string? password)
    {
        if (user is not null)
        {
            arguments.AddRange(["--user", user]);
        }

        if (password is not null)
        {
            arguments.AddRange(["--password", password]);
        }
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}

public sealed class PahoSubscriber(ExternalProcess process) : IAsyncDisposable
{
    public IReadOnlyList<int> GrantedQoS { get; internal set; } = [];

    public (int ReturnCode, bool SessionPresent) ConnAck { get; internal set; }

    /// <summary>Waits for the script to exit after its expected count and returns the messages.</summary>
    public async Task<IReadOnlyList<ReceivedMessage>> WaitForExitAsync()
    {
        var result = await process.WaitForExitAsync(Timeouts.ExternalClient + TimeSpan.FromSeconds(5));
        Assert.True(result.ExitCode == 0, $"paho subscriber did not receive everything it expected: {result}");
        return [.. result.StandardOutput.Select(PahoClient.ParseMessage).OfType<ReceivedMessage>()];
    }

    public ValueTask DisposeAsync() => process.DisposeAsync();
}
