using System.Globalization;
using Cicada.Amqp.Protocol;

namespace Cicada.Amqp.Routing;

/// <summary>
/// The queue arguments Cicada applies (RabbitMQ's extensions to queue.declare): <c>x-message-ttl</c>
/// (ms a message may wait in the queue), <c>x-expires</c> (ms an unused queue lives),
/// <c>x-max-length</c> (ready messages kept) with <c>x-overflow</c> <c>drop-head</c> (the default) or
/// <c>reject-publish</c>. Other <c>x-</c> arguments are kept and ignored, as RabbitMQ ignores unknown ones.
/// </summary>
internal sealed record QueueLimits(long? MessageTtl, long? Expires, long? MaxLength, bool RejectPublish)
{
    public static readonly QueueLimits None = new(null, null, null, false);

    // RabbitMQ's limit for both timers (2^32 - 1 ms).
    private const long MaxTimer = uint.MaxValue;

    /// <summary>Validates the arguments of a queue.declare; an invalid value is a channel error 406 (RabbitMQ's rule).</summary>
    public static QueueLimits Parse(Dictionary<string, object?>? arguments, uint method) => Read(arguments, strict: true, method);

    /// <summary>Reads arguments stored by an earlier declaration (validated then): nothing throws.</summary>
    public static QueueLimits Read(Dictionary<string, object?>? arguments) => Read(arguments, strict: false, 0);

    private static QueueLimits Read(Dictionary<string, object?>? arguments, bool strict, uint method)
    {
        if (arguments is null || arguments.Count == 0)
        {
            return None;
        }

        var ttl = Integer(arguments, "x-message-ttl", 0, MaxTimer, strict, method);
        var expires = Integer(arguments, "x-expires", 1, MaxTimer, strict, method);
        var maxLength = Integer(arguments, "x-max-length", 0, long.MaxValue, strict, method);
        var reject = false;
        if (arguments.TryGetValue("x-overflow", out var overflow))
        {
            switch (overflow)
            {
                case "drop-head":
                    break;
                case "reject-publish" or "reject-publish-dlx":
                    // Without dead-lettering, reject-publish-dlx behaves as reject-publish.
                    reject = true;
                    break;
                default:
                    if (strict)
                    {
                        Throw.Channel(ReplyCode.PreconditionFailed,
                            $"invalid arg 'x-overflow' for queue: '{overflow}' is not one of drop-head, reject-publish, reject-publish-dlx", method);
                    }

                    break;
            }
        }

        var limits = new QueueLimits(ttl, expires, maxLength, reject);
        return limits == None ? None : limits;
    }

    private static long? Integer(Dictionary<string, object?> arguments, string key, long min, long max, bool strict, uint method)
    {
        if (!arguments.TryGetValue(key, out var value))
        {
            return null;
        }

        if (value is sbyte or byte or short or ushort or int or uint or long)
        {
            var number = Convert.ToInt64(value, CultureInfo.InvariantCulture);
            if (number >= min && number <= max)
            {
                return number;
            }
        }

        if (strict)
        {
            Throw.Channel(ReplyCode.PreconditionFailed,
                $"invalid arg '{key}' for queue: an integer in {min}..{max} is expected, got '{value}'", method);
        }

        return null;
    }

    /// <summary>The first argument in which a redeclaration differs from the queue (RabbitMQ: "inequivalent arg"); null when equivalent.</summary>
    public string? Difference(QueueLimits other) =>
        MessageTtl != other.MessageTtl ? "x-message-ttl"
        : Expires != other.Expires ? "x-expires"
        : MaxLength != other.MaxLength ? "x-max-length"
        : RejectPublish != other.RejectPublish ? "x-overflow"
        : null;
}
