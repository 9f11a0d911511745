using System.Collections.Concurrent;
using System.Text;
using Cicada.Core;
using Microsoft.Extensions.Logging;

namespace Cicada.Devices;

public enum CommandOutcome
{
    /// <summary>Published; nobody waits for the reply.</summary>
    Accepted,

    /// <summary>The device replied in time.</summary>
    Replied,

    /// <summary>No reply within the wait.</summary>
    TimedOut,

    UnknownDevice,
    InvalidName,

    /// <summary>The device does not announce this command (a grouped Home Assistant device's entities, a Homie device's settable properties).</summary>
    UnknownCommand,
}

/// <summary>What became of a command: where it went, where its reply goes, and the reply when one was awaited.</summary>
public sealed record CommandResult(CommandOutcome Outcome, string? CommandTopic = null, string? ResponseTopic = null,
    string? CorrelationId = null, Message? Reply = null);

/// <summary>
/// Commands with replies, for every edge: the command is published at QoS 1 to the device's
/// command topic with MQTT 5's request/response properties (§4.10: Response Topic + Correlation
/// Data; MQTT 3 subscribers get the plain message, AMQP ones reply-to/correlation-id). The
/// response topic is unique per command (<c>{root}/replies/{id}</c>); a caller that waits has an
/// in-process Core session subscribed to it before the command goes out, so no reply is missed.
/// </summary>
public sealed partial class DeviceCommands(Broker broker, DeviceRegistry registry, ILogger<DeviceCommands> logger) : IDisposable
{
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, Waiter> _waiting = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private InternalSubscriber? _replies;

    private sealed record Waiter(string CorrelationId, TaskCompletionSource<Message> Reply);

    /// <summary>A command name is one topic level: no separator, no wildcard (MQTT-4.7.1-1).</summary>
    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 128 && name.IndexOfAny(['/', '+', '#', '\0']) < 0;

    /// <summary>
    /// Parses a wait such as <c>5s</c>, <c>500ms</c>, <c>1m</c> or <c>5</c> (seconds), from 0 to
    /// <see cref="MaxWait"/>.
    /// </summary>
    public static bool TryParseWait(string text, out TimeSpan wait)
    {
        wait = default;
        var (number, unit) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0)
            : text.EndsWith('m') ? (text[..^1], 60.0)
            : (text, 1.0);
        // double.TryParse accepts "NaN" and "Infinity" whatever the styles, and TimeSpan.FromSeconds
        // throws on NaN: ?wait=NaN was a 500 (found by the HTTP fuzz).
        if (!double.TryParse(number, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var value)
            || !double.IsFinite(value))
        {
            return false;
        }

        var seconds = value * unit;
        if (seconds > MaxWait.TotalSeconds)
        {
            return false;
        }

        wait = TimeSpan.FromSeconds(seconds);
        return true;
    }

    /// <summary>
    /// Where a command would go and where its reply would arrive (<c>{root}/replies/+</c>), so an
    /// edge can ask its ACL before <see cref="SendAsync"/>; null for an unknown device or an invalid
    /// name (which <see cref="SendAsync"/> answers).
    /// </summary>
    public (string CommandTopic, string ReplyFilter)? TopicsFor(string identifier, string name) =>
        IsValidName(name) && registry.TopicsOf(identifier) is { } topics && topics.CommandFor(name) is { } command
            ? (command, ReplyTopic(topics, "+")) : null;

    private static string ReplyTopic(DeviceTopics topics, string correlation) => $"{topics.Root}/replies/{correlation}";

    public async Task<CommandResult> SendAsync(string identifier, string name, ReadOnlyMemory<byte> payload, string? contentType,
        TimeSpan? wait, CancellationToken cancellationToken)
    {
        if (!IsValidName(name))
        {
            return new CommandResult(CommandOutcome.InvalidName);
        }

        if (registry.TopicsOf(identifier) is not { } topics)
        {
            return new CommandResult(CommandOutcome.UnknownDevice);
        }

        // A grouped device has only its entities' commands, a Homie device only its settable properties.
        if (topics.CommandFor(name) is not { } commandTopic)
        {
            return new CommandResult(CommandOutcome.UnknownCommand);
        }

        var correlation = Guid.NewGuid().ToString("N");
        var responseTopic = ReplyTopic(topics, correlation);
        var properties = new MessageProperties
        {
            ContentType = contentType,
            ResponseTopic = responseTopic,
            CorrelationData = Encoding.UTF8.GetBytes(correlation),
        };

        Waiter? waiter = null;
        InternalSubscriber? replies = null;
        if (wait is not null)
        {
            waiter = new Waiter(correlation, new TaskCompletionSource<Message>(TaskCreationOptions.RunContinuationsAsynchronously));
            _waiting[responseTopic] = waiter;
            replies = Replies();
            await replies.SubscribeAsync(responseTopic, withRetained: false);
        }

        try
        {
            await broker.PublishAsync(new Message(commandTopic, payload, QoS.AtLeastOnce, retain: false, properties));
            LogSent(identifier, name, commandTopic);
            if (waiter is null)
            {
                return new CommandResult(CommandOutcome.Accepted, commandTopic, responseTopic, correlation);
            }

            try
            {
                var reply = await waiter.Reply.Task.WaitAsync(wait!.Value, cancellationToken);
                return new CommandResult(CommandOutcome.Replied, commandTopic, responseTopic, correlation, reply);
            }
            catch (TimeoutException)
            {
                return new CommandResult(CommandOutcome.TimedOut, commandTopic, responseTopic, correlation);
            }
        }
        finally
        {
            if (waiter is not null)
            {
                _waiting.TryRemove(responseTopic, out _);
                replies!.Unsubscribe(responseTopic);
            }
        }
    }

    private InternalSubscriber Replies()
    {
        lock (_lock)
        {
            return _replies ??= InternalSubscriber.Connect(broker, "replies", OnReply);
        }
    }

    private void OnReply(Message message)
    {
        if (!_waiting.TryGetValue(message.Topic, out var waiter))
        {
            return;
        }

        // MQTT 5 §4.10.2: the responder copies the correlation data; a reply carrying someone
        // else's is not ours. One without any (an MQTT 3 device) is accepted: the topic is unique.
        var data = message.Properties?.CorrelationData ?? default;
        if (!data.IsEmpty && !data.Span.SequenceEqual(Encoding.UTF8.GetBytes(waiter.CorrelationId)))
        {
            return;
        }

        waiter.Reply.TrySetResult(message);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _replies?.Dispose();
            _replies = null;
        }
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Debug, Message = "Command {Name} for device {Identifier} published to {Topic}")]
    private partial void LogSent(string identifier, string name, string topic);
}
