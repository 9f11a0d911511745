using System.Globalization;
using System.Net;

namespace Cicada.Bench;

internal enum Scenario
{
    PubSub,
    FanOut,
    FanIn,
    Latency,
    Connect,
    Idle,
}

/// <summary>The command line of <c>cicada-bench run</c>; every option has a default fit for its scenario.</summary>
internal sealed class BenchOptions
{
    public Scenario Scenario { get; private set; } = Scenario.PubSub;
    public string Host { get; private set; } = "127.0.0.1";
    public int Port { get; private set; } = 1883;
    public int Qos { get; private set; }
    public int PayloadSize { get; private set; } = 64;
    public double DurationSeconds { get; private set; } = 10;
    public long? Messages { get; private set; }
    public int Publishers { get; private set; } = 1;
    public int Subscribers { get; private set; } = 1;
    public int InFlight { get; private set; } = 100;
    public double? Rate { get; private set; }
    public double WarmupSeconds { get; private set; }
    public int Connections { get; private set; }
    public int Concurrency { get; private set; } = 100;
    public int? Pid { get; private set; }
    public double SettleSeconds { get; private set; } = 2;
    public double HoldSeconds { get; private set; }
    public double DrainTimeoutSeconds { get; private set; } = 30;
    public string? JsonPath { get; private set; }
    public string Label { get; private set; } = "broker";
    public string? Name { get; private set; }
    public string TopicPrefix { get; private set; } = $"bench/{Environment.ProcessId}-{Random.Shared.Next(100_000):D5}";
    public bool Quiet { get; private set; }

    /// <summary>pubsub: idle sessions, each subscribed to its own unrelated exact topic, present during a second run.</summary>
    public int IdleSubscribers { get; private set; }

    /// <summary>Subscribers connect with CleanSession = 0, so a broker must keep (and, if durable, store) their QoS 1/2 messages.</summary>
    public bool PersistentSubscribers { get; private set; }

    /// <summary>A case whose runs of the other broker this case is compared with (report only).</summary>
    public string? CompareTo { get; private set; }

    public const string Usage = """
        cicada-bench run [options]       load one MQTT 3.1.1 broker with one scenario
        cicada-bench report [options]    aggregate result files into a side-by-side table

        run options:
          --scenario pubsub|fanout|fanin|latency|connect|idle   (pubsub)
          --host HOST --port PORT        broker address (127.0.0.1:1883)
          --qos 0|1|2                    QoS of publishes and subscriptions (0)
          --payload BYTES                payload size, at least 16 (64)
          --duration SECONDS             how long publishers publish (10)
          --messages N                   instead of a duration: N messages per publisher
          --publishers N                 fanin: publishers (20)
          --subscribers N                fanout: subscribers (100)
          --inflight N                   QoS 1/2 window of unacknowledged publishes (100)
          --idle-subscribers N           pubsub: run once without, then again with N idle
                                         sessions each subscribed to its own exact topic
                                         (<prefix>/idle/<n>/state); reports the throughput kept
          --persistent-subscribers       subscribers connect with CleanSession 0 (§3.1.2.4): a broker
                                         with durable storage must store their QoS 1/2 messages
          --rate MSGS/S                  total publish rate; latency: 10000, others: unlimited
          --warmup SECONDS               latency samples before this are discarded (latency: 1)
          --connections N                connect: 1000, idle: 10000
          --concurrency N                connection attempts in flight at once (100)
          --pid PID                      idle: broker process whose VmRSS is sampled
          --settle SECONDS               idle: wait before sampling RSS (2)
          --hold SECONDS                 idle: keep connections open this long after sampling (0)
          --drain-timeout SECONDS        wait for late deliveries at most this long (30)
          --json FILE                    write the result as JSON
          --label NAME                   broker name in the results (broker)
          --name CASE                    case name used to group results (derived)
          --compare-to CASE              report: compare with the other broker's runs of CASE
                                         (a case only one broker runs, e.g. another storage)
          --quiet                        no progress lines
        """;

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var o = new BenchOptions();
        int? publishers = null, subscribers = null, connections = null;
        double? warmup = null;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value");
            switch (name)
            {
                case "--scenario": o.Scenario = ParseScenario(Next()); break;
                case "--host": o.Host = Next(); break;
                case "--port": o.Port = Int(Next(), name, 1, 65_535); break;
                case "--qos": o.Qos = Int(Next(), name, 0, 2); break;
                case "--payload": o.PayloadSize = Int(Next(), name, Payload.HeaderSize, 256 * 1024 * 1024); break;
                case "--duration": o.DurationSeconds = Dbl(Next(), name, 0.1); break;
                case "--messages": o.Messages = Int(Next(), name, 1, (int)Payload.MaxSequence); break;
                case "--publishers": publishers = Int(Next(), name, 1, 100_000); break;
                case "--subscribers": subscribers = Int(Next(), name, 1, 100_000); break;
                case "--inflight": o.InFlight = Int(Next(), name, 1, 65_535); break;
                case "--rate": o.Rate = Dbl(Next(), name, 1); break;
                case "--warmup": warmup = Dbl(Next(), name, 0); break;
                case "--connections": connections = Int(Next(), name, 1, 1_000_000); break;
                case "--concurrency": o.Concurrency = Int(Next(), name, 1, 100_000); break;
                case "--pid": o.Pid = Int(Next(), name, 1, int.MaxValue); break;
                case "--settle": o.SettleSeconds = Dbl(Next(), name, 0); break;
                case "--hold": o.HoldSeconds = Dbl(Next(), name, 0); break;
                case "--drain-timeout": o.DrainTimeoutSeconds = Dbl(Next(), name, 0.1); break;
                case "--json": o.JsonPath = Next(); break;
                case "--label": o.Label = Next(); break;
                case "--name": o.Name = Next(); break;
                case "--topic-prefix": o.TopicPrefix = Next(); break;
                case "--quiet": o.Quiet = true; break;
                case "--idle-subscribers": o.IdleSubscribers = Int(Next(), name, 0, 1_000_000); break;
                case "--compare-to": o.CompareTo = Next(); break;
                case "--persistent-subscribers": o.PersistentSubscribers = true; break;
                default: throw new ArgumentException($"unknown option {name}");
            }
        }

        // Scenario-dependent defaults: the width of a fan, the size of a storm.
        o.Publishers = o.Scenario == Scenario.FanIn ? publishers ?? 20 : 1;
        o.Subscribers = o.Scenario == Scenario.FanOut ? subscribers ?? 100 : 1;
        if (publishers is not null && o.Scenario != Scenario.FanIn)
        {
            throw new ArgumentException("--publishers applies to --scenario fanin only");
        }

        if (subscribers is not null && o.Scenario != Scenario.FanOut)
        {
            throw new ArgumentException("--subscribers applies to --scenario fanout only");
        }

        if (o.IdleSubscribers > 0 && o.Scenario != Scenario.PubSub)
        {
            throw new ArgumentException("--idle-subscribers applies to --scenario pubsub only");
        }

        o.Connections = connections ?? (o.Scenario == Scenario.Idle ? 10_000 : 1_000);
        if (o.Scenario == Scenario.Latency)
        {
            o.Rate ??= 10_000;
        }

        o.WarmupSeconds = warmup ?? (o.Rate is not null ? 1 : 0);
        if (o.WarmupSeconds >= o.DurationSeconds && o.Messages is null && o.Rate is not null)
        {
            throw new ArgumentException("--warmup must be shorter than --duration");
        }

        o.Name ??= o.DefaultName();
        return o;
    }

    public EndPoint ResolveEndPoint() =>
        IPAddress.TryParse(Host, out var address)
            ? new IPEndPoint(address, Port)
            : new IPEndPoint(Dns.GetHostAddresses(Host).First(), Port);

    private string DefaultName() => Scenario switch
    {
        Scenario.PubSub when IdleSubscribers > 0 => $"pubsub 1→1 QoS {Qos} {PayloadSize} B + {IdleSubscribers} idle subscribed sessions",
        Scenario.PubSub => $"pubsub 1→1 QoS {Qos} {PayloadSize} B",
        Scenario.FanOut => $"fanout 1→{Subscribers} QoS {Qos} {PayloadSize} B",
        Scenario.FanIn => $"fanin {Publishers}→1 QoS {Qos} {PayloadSize} B",
        Scenario.Latency => $"latency {Rate:0} msg/s QoS {Qos} {PayloadSize} B",
        Scenario.Connect => $"connect storm {Connections}",
        _ => $"idle {Connections} connections",
    };

    private static Scenario ParseScenario(string value) => value.ToLowerInvariant() switch
    {
        "pubsub" => Scenario.PubSub,
        "fanout" => Scenario.FanOut,
        "fanin" => Scenario.FanIn,
        "latency" => Scenario.Latency,
        "connect" => Scenario.Connect,
        "idle" => Scenario.Idle,
        _ => throw new ArgumentException($"unknown scenario '{value}'"),
    };

    private static int Int(string value, string name, int min, int max) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new ArgumentException($"{name} must be an integer in [{min}, {max}], got '{value}'");

    private static double Dbl(string value, string name, double min) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= min && double.IsFinite(n)
            ? n
            : throw new ArgumentException($"{name} must be a number ≥ {min}, got '{value}'");
}
