using System.Text;
using Cicada.Core.Topics;

namespace Cicada.Amqp.Routing;

/// <summary>
/// The bridge between <c>amq.topic</c> and Core's topic space, as RabbitMQ's MQTT plugin does it:
/// routing-key words are topic levels, so <c>.</c> and <c>/</c> swap places (<c>a.b/c</c> ↔
/// <c>a/b.c</c>): a <c>.</c> inside an MQTT level becomes a <c>/</c> inside an AMQP word and back,
/// which keeps the mapping one-to-one. In binding keys <c>*</c> ↔ <c>+</c> and <c>#</c> ↔ <c>#</c>.
/// </summary>
internal static class TopicMapping
{
    /// <summary>Topic of a routing key published to amq.topic; null when it is no valid topic name (then nothing in the topic space matches).</summary>
    public static string? ToTopic(string routingKey)
    {
        var topic = Swap(routingKey);
        return TopicValidator.IsValidTopicName(topic) ? topic : null;
    }

    /// <summary>Routing key a topic-space message carries when delivered from amq.topic.</summary>
    public static string ToRoutingKey(string topic) => Swap(topic);

    /// <summary>
    /// The MQTT filter for an amq.topic binding key. AMQP's <c>#</c> may stand anywhere and match
    /// zero words; MQTT's only last: a key MQTT cannot express exactly is widened (the filter is
    /// cut at the first such word and ends in <c>#</c>) and <paramref name="exact"/> is false, so
    /// the queue checks each delivery against the key itself.
    /// </summary>
    public static string ToFilter(string bindingKey, out bool exact)
    {
        exact = true;
        var words = bindingKey.Split('.');
        var levels = new List<string>(words.Length);
        for (var i = 0; i < words.Length; i++)
        {
            var level = words[i].Replace('/', '.');
            if (level == "*")
            {
                levels.Add("+");
            }
            else if (level == "#")
            {
                levels.Add("#");
                if (i != words.Length - 1)
                {
                    exact = false;
                }

                break;
            }
            else if (level.AsSpan().IndexOfAny('+', '#', '\0') >= 0)
            {
                // A literal '+' or '#' inside a word: no MQTT level can hold it. Match any level here and filter exactly later.
                levels.Add("+");
                exact = false;
            }
            else
            {
                levels.Add(level);
            }
        }

        return string.Join('/', levels);
    }

    private static string Swap(string value)
    {
        if (value.AsSpan().IndexOfAny('.', '/') < 0)
        {
            return value;
        }

        var sb = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            sb.Append(c switch { '.' => '/', '/' => '.', _ => c });
        }

        return sb.ToString();
    }
}

/// <summary>AMQP topic-exchange matching (amqp0-9-1.xml, exchange type "topic"): <c>*</c> one word, <c>#</c> zero or more.</summary>
internal static class TopicMatcher
{
    public static bool Matches(string bindingKey, string routingKey) =>
        Match(bindingKey.Split('.'), 0, routingKey.Split('.'), 0);

    private static bool Match(string[] pattern, int p, string[] words, int w)
    {
        while (p < pattern.Length)
        {
            if (pattern[p] == "#")
            {
                // Collapse consecutive '#'; then try every split point.
                while (p + 1 < pattern.Length && pattern[p + 1] == "#")
                {
                    p++;
                }

                if (p == pattern.Length - 1)
                {
                    return true;
                }

                for (var k = w; k <= words.Length; k++)
                {
                    if (Match(pattern, p + 1, words, k))
                    {
                        return true;
                    }
                }

                return false;
            }

            if (w >= words.Length || (pattern[p] != "*" && pattern[p] != words[w]))
            {
                return false;
            }

            p++;
            w++;
        }

        return w == words.Length;
    }
}
