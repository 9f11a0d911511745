using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cicada.Interop.Tests.Infrastructure;

/// <summary>
/// The Eclipse Paho Python client (Debian's 1.6.1, <c>/usr/bin/python3</c>) speaking MQTT 5: one
/// script run per client, driven by a JSON plan (connect properties, subscriptions with options,
/// publishes with properties, how many messages to wait for or how long to stay), printing one JSON
/// object per event including each packet's properties.
/// </summary>
public static class PahoV5Client
{
    private const string Python = "/usr/bin/python3";

    private const string Script = """
        import json, sys, time, binascii, threading
        import paho.mqtt.client as mqtt
        from paho.mqtt.properties import Properties
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.subscribeoptions import SubscribeOptions

        plan = json.loads(sys.argv[1])

        emit_lock = threading.Lock()

        def emit(**kw):
            # Callbacks run on paho's network thread, the plan on the main one: one whole line at a time.
            with emit_lock:
                sys.stdout.write(json.dumps(kw) + "\n")
                sys.stdout.flush()

        def props_of(p):
            return {} if p is None else p.json()

        def make_props(kind, d):
            if not d:
                return None
            p = Properties(kind)
            for k, v in d.items():
                if k == "CorrelationData":
                    v = binascii.unhexlify(v)
                elif k == "UserProperty":
                    v = [tuple(x) for x in v]
                setattr(p, k, v)
            return p

        c = mqtt.Client(client_id=plan.get("id", ""), protocol=mqtt.MQTTv5)
        state = {"connack": None, "subacks": 0, "received": 0}
        subs = plan.get("subs", [])

        def on_connect(cl, userdata, flags, rc, properties=None):
            emit(event="connack", reason=rc.value, session_present=int(flags.get("session present", 0)), props=props_of(properties))
            state["connack"] = rc.value
            if rc.value == 0:
                for s in subs:
                    opts = SubscribeOptions(qos=s.get("qos", 0), noLocal=s.get("no_local", False),
                                            retainAsPublished=s.get("rap", False), retainHandling=s.get("rh", 0))
                    sp = None
                    if s.get("sub_id"):
                        sp = Properties(PacketTypes.SUBSCRIBE)
                        sp.SubscriptionIdentifier = s["sub_id"]
                    cl.subscribe(s["topic"], options=opts, properties=sp)

        def on_subscribe(cl, userdata, mid, reasons, properties=None):
            emit(event="suback", reasons=[r.value for r in reasons])
            state["subacks"] += 1

        def on_message(cl, userdata, m):
            emit(event="message", topic=m.topic, payload=m.payload.decode("utf-8", "replace"), qos=m.qos,
                 retain=int(m.retain), props=props_of(getattr(m, "properties", None)))
            state["received"] += 1

        c.on_connect = on_connect
        c.on_subscribe = on_subscribe
        c.on_message = on_message
        deadline = time.time() + plan.get("timeout", 30)
        c.connect("127.0.0.1", plan["port"], keepalive=60, clean_start=plan.get("clean_start", True),
                  properties=make_props(PacketTypes.CONNECT, plan.get("connect_props")))
        c.loop_start()
        while state["connack"] is None and time.time() < deadline:
            time.sleep(0.01)
        if state["connack"] != 0:
            c.loop_stop()
            sys.exit(0 if state["connack"] is not None else 3)
        while state["subacks"] < len(subs) and time.time() < deadline:
            time.sleep(0.01)
        for p in plan.get("pubs", []):
            info = c.publish(p["topic"], p.get("payload", ""), p.get("qos", 0), p.get("retain", False),
                             properties=make_props(PacketTypes.PUBLISH, p.get("props")))
            info.wait_for_publish(max(0.1, deadline - time.time()))
            emit(event="published", mid=info.mid, ok=info.is_published())
        count = plan.get("count", 0)
        linger_until = time.time() + plan.get("linger", 0)
        while (state["received"] < count or time.time() < linger_until) and time.time() < deadline:
            time.sleep(0.01)
        if plan.get("drop"):
            c.loop_stop()
            c.socket().close()
        else:
            c.disconnect(properties=make_props(PacketTypes.DISCONNECT, plan.get("disconnect_props")))
            c.loop_stop()
        emit(event="done", received=state["received"])
        sys.exit(0 if state["received"] >= count else 2)
        """;

    private static readonly Lazy<string> ScriptPath = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"cicada-it-paho5-{Environment.ProcessId}.py");
        File.WriteAllText(path, Script);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(path);
        return path;
    });

    /// <summary>Starts a client that carries out <paramref name="plan"/> (<c>port</c> is filled in); returns once its SUBACKs arrived.</summary>
    public static async Task<PahoV5Run> StartAsync(int port, JsonObject plan)
    {
        plan["port"] = port;
        plan["timeout"] ??= (int)Timeouts.ExternalClient.TotalSeconds;
        var subs = plan["subs"] is JsonArray array ? array.Count : 0;
        var process = ExternalProcess.Start(Python, [ScriptPath.Value, plan.ToJsonString()]);
        var run = new PahoV5Run(process);
        try
        {
            var seen = 0;
            await process.WaitForLineAsync(
                line => line.Contains("\"connack\"", StringComparison.Ordinal) && !line.Contains("\"reason\": 0,", StringComparison.Ordinal)
                    || line.Contains("\"suback\"", StringComparison.Ordinal) && ++seen >= subs
                    || subs == 0 && line.Contains("\"connack\"", StringComparison.Ordinal),
                Timeouts.ExternalClient,
                "CONNACK/SUBACK from paho");
            return run;
        }
        catch
        {
            await run.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs <paramref name="plan"/> to its end and returns everything it printed.</summary>
    public static async Task<PahoV5Result> RunAsync(int port, JsonObject plan)
    {
        await using var run = await StartAsync(port, plan);
        return await run.WaitAsync();
    }
}

public sealed class PahoV5Run(ExternalProcess process) : IAsyncDisposable
{
    public async Task<PahoV5Result> WaitAsync()
    {
        var result = await process.WaitForExitAsync(Timeouts.ExternalClient + TimeSpan.FromSeconds(5));
        Assert.True(result.ExitCode == 0, $"paho (MQTT 5) did not finish its plan: {result}");
        return new PahoV5Result([.. result.StandardOutput.Where(l => l.StartsWith('{')).Select(l => JsonNode.Parse(l)!.AsObject())]);
    }

    public ValueTask DisposeAsync() => process.DisposeAsync();
}

public sealed record PahoV5Result(IReadOnlyList<JsonObject> Events)
{
    public JsonObject ConnAck => Events.First(e => (string?)e["event"] == "connack");

    public IEnumerable<JsonObject> Messages => Events.Where(e => (string?)e["event"] == "message");

    public IReadOnlyList<int> SubAckReasons => [.. Events.Where(e => (string?)e["event"] == "suback").SelectMany(e => e["reasons"]!.AsArray().Select(r => (int)r!))];

    public override string ToString() => string.Join('\n', Events.Select(e => e.ToJsonString(new JsonSerializerOptions { WriteIndented = false })));
}
