using System.Globalization;
using System.Reflection;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cicada.Core;

/// <summary><c>$SYS</c> topic settings (configuration section <c>Sys</c>).</summary>
public sealed class SysOptions
{
    public const string Section = "Sys";

    /// <summary>Seconds between two updates of the <c>$SYS</c> tree; 0 publishes none (mosquitto's <c>sys_interval</c>).</summary>
    public int IntervalSeconds { get; set; } = 10;
}

/// <summary>
/// Publishes the broker's state as retained QoS 0 messages under <c>$SYS/broker/</c>, with
/// mosquitto's topic names where mosquitto has one, so dashboards and MQTT Explorer made for it
/// show ours. As mosquitto does, a topic is republished only when its value changed (uptime
/// every time), so an idle broker sends almost nothing. Protocol-agnostic: every edge's clients
/// are counted, and per-protocol counts come from <see cref="Sessions.ClientLink.Protocol"/>.
/// </summary>
public sealed partial class SysTopics : BackgroundService
{
    public const string Prefix = "$SYS/broker/";

    private const string RetainedCountName = "retained messages/count";

    // mosquitto's load averages: 1, 5 and 15 minute exponentially weighted per-minute rates.
    private static readonly int[] LoadWindowsMinutes = [1, 5, 15];

    private readonly Broker _broker;
    private readonly TimeProvider _time;
    private readonly ILogger<SysTopics> _logger;
    private readonly int _intervalSeconds;
    private readonly long _startedAt;
    private readonly Dictionary<string, string> _published = new(StringComparer.Ordinal);
    private readonly HashSet<string> _protocolsSeen = new(StringComparer.Ordinal);
    private readonly double[] _receivedLoad = new double[3];
    private readonly double[] _sentLoad = new double[3];
    private long _lastTick;
    private long _lastReceived;
    private long _lastSent;

    public SysTopics(Broker broker, IOptions<SysOptions> options, TimeProvider time, ILogger<SysTopics> logger)
    {
        _broker = broker;
        _time = time;
        _logger = logger;
        _intervalSeconds = options.Value.IntervalSeconds;
        _startedAt = time.GetTimestamp();
        _lastTick = _startedAt;
    }

    /// <summary><c>cicada version 0.1.0</c>, as mosquitto's <c>mosquitto version 2.0.11</c>.</summary>
    public static string VersionText { get; } = "cicada version " +
        (typeof(SysTopics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_intervalSeconds <= 0)
        {
            LogDisabled();
            return;
        }

        LogEnabled(_intervalSeconds);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_intervalSeconds), _time);
        try
        {
            do
            {
                Update();
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Computes every value and publishes those that changed since the last update.</summary>
    internal void Update()
    {
        var now = _time.GetTimestamp();
        var metrics = _broker.Metrics;
        var clients = _broker.CountClients();
        var received = metrics.TotalMessagesReceived;
        var sent = metrics.TotalMessagesSent;
        var dropped = metrics.TotalMessagesDropped;

        UpdateLoads(now, received, sent);

        Publish("version", VersionText);
        Publish("uptime", $"{(long)_time.GetElapsedTime(_startedAt, now).TotalSeconds} seconds");
        Publish("clients/connected", clients.Connected);
        Publish("clients/disconnected", clients.Disconnected);
        Publish("clients/total", clients.Total);
        Publish("messages/received", received);
        Publish("messages/sent", sent);
        Publish("messages/dropped", dropped);

        // mosquitto's name for messages dropped by full queues, for dashboards that read it.
        Publish("publish/messages/dropped", dropped);
        Publish("subscriptions/count", clients.Subscriptions);
        for (var i = 0; i < LoadWindowsMinutes.Length; i++)
        {
            var window = LoadWindowsMinutes[i];
            Publish($"load/messages/received/{window}min", FormatLoad(_receivedLoad[i]));
            Publish($"load/messages/sent/{window}min", FormatLoad(_sentLoad[i]));
        }

        foreach (var protocol in clients.ByProtocol.Keys)
        {
            _protocolsSeen.Add(protocol);
        }

        // A protocol once seen keeps its topic, so it falls back to 0 instead of freezing at the
        // last count when its clients leave.
        foreach (var protocol in _protocolsSeen)
        {
            Publish($"protocols/{TopicLevel(protocol)}/clients/connected", clients.ByProtocol.GetValueOrDefault(protocol));
        }

        // Last, so it counts the $SYS messages just published too (as mosquitto's count does),
        // itself included: a first update then does not change it again on the second.
        var retainedCount = _broker.Retained.Count;
        if (_broker.Retained.Get(Prefix + RetainedCountName) is null)
        {
            retainedCount++;
        }

        Publish(RetainedCountName, retainedCount);
    }

    private void UpdateLoads(long now, long received, long sent)
    {
        var elapsed = _time.GetElapsedTime(_lastTick, now).TotalSeconds;
        if (elapsed <= 0)
        {
            return;
        }

        // Per-minute rate over this interval, folded into each window's moving average with the
        // weight exp(-elapsed / window), which keeps the averages right whatever the interval.
        var receivedRate = (received - _lastReceived) * 60.0 / elapsed;
        var sentRate = (sent - _lastSent) * 60.0 / elapsed;
        for (var i = 0; i < LoadWindowsMinutes.Length; i++)
        {
            var decay = Math.Exp(-elapsed / (LoadWindowsMinutes[i] * 60.0));
            _receivedLoad[i] = receivedRate + (decay * (_receivedLoad[i] - receivedRate));
            _sentLoad[i] = sentRate + (decay * (_sentLoad[i] - sentRate));
        }

        _lastTick = now;
        _lastReceived = received;
        _lastSent = sent;
    }

    private void Publish(string name, long value) => Publish(name, value.ToString(CultureInfo.InvariantCulture));

    private void Publish(string name, string value)
    {
        var topic = Prefix + name;
        if (_published.TryGetValue(topic, out var last) && last == value)
        {
            return;
        }

        _published[topic] = value;
        _broker.PublishSystem(new Message(topic, Encoding.UTF8.GetBytes(value), QoS.AtMostOnce, retain: true));
    }

    private static string FormatLoad(double value) => value.ToString("0.00", CultureInfo.InvariantCulture);

    // A protocol name is one topic level: wildcards and separators would make it something else.
    private static string TopicLevel(string name) =>
        string.Create(name.Length, name, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = source[i] is '/' or '+' or '#' or '\0' ? '_' : source[i];
            }
        });

    [LoggerMessage(Level = LogLevel.Information, Message = "Publishing $SYS/broker/# every {Seconds} s (Sys:IntervalSeconds)")]
    private partial void LogEnabled(int seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "$SYS topics are off (Sys:IntervalSeconds = 0)")]
    private partial void LogDisabled();
}
