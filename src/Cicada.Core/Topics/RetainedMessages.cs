namespace Cicada.Core.Topics;

/// <summary>
/// Retained messages by topic, in a trie so a subscription's filter finds its retained messages
/// without scanning every topic (MQTT-3.3.1-6). Reads happen on subscribe, writes on retained
/// publishes; one lock is enough for both.
/// </summary>
public sealed class RetainedMessages
{
    private readonly Node _root = new(null, string.Empty);
    private readonly Lock _lock = new();
    private int _count;

    private sealed class Node(Node? parent, string level)
    {
        public readonly Node? Parent = parent;
        public readonly string Level = level;
        public readonly Dictionary<string, Node> Children = new(StringComparer.Ordinal);
        public Message? Message;
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Stores or replaces the retained message of its topic.</summary>
    public void Set(Message message)
    {
        lock (_lock)
        {
            var node = _root;
            foreach (var level in message.Topic.Split('/'))
            {
                if (!node.Children.TryGetValue(level, out var child))
                {
                    child = new Node(node, level);
                    node.Children.Add(level, child);
                }

                node = child;
            }

            if (node.Message is null)
            {
                _count++;
            }

            node.Message = message;
        }
    }

    /// <summary>Removes the retained message of <paramref name="topic"/>; true when there was one.</summary>
    public bool Remove(string topic)
    {
        lock (_lock)
        {
            var node = _root;
            foreach (var level in topic.Split('/'))
            {
                if (!node.Children.TryGetValue(level, out node))
                {
                    return false;
                }
            }

            if (node.Message is null)
            {
                return false;
            }

            node.Message = null;
            _count--;
            while (node.Parent is { } parent && node.Message is null && node.Children.Count == 0)
            {
                parent.Children.Remove(node.Level);
                node = parent;
            }

            return true;
        }
    }

    public Message? Get(string topic)
    {
        lock (_lock)
        {
            var node = _root;
            foreach (var level in topic.Split('/'))
            {
                if (!node.Children.TryGetValue(level, out node))
                {
                    return null;
                }
            }

            return node.Message;
        }
    }

    /// <summary>Appends the retained messages whose topics match <paramref name="filter"/>.</summary>
    public void Match(string filter, List<Message> results)
    {
        var levels = filter.Split('/');
        lock (_lock)
        {
            Match(_root, levels, 0, results);
        }
    }

    private static void Match(Node node, string[] levels, int index, List<Message> results)
    {
        if (index == levels.Length)
        {
            if (node.Message is { } m)
            {
                results.Add(m);
            }

            return;
        }

        var level = levels[index];
        if (level == "#")
        {
            // "a/#" matches "a" itself (MQTT-4.7.1-2) and everything below it.
            if (index > 0 && node.Message is { } parentMessage)
            {
                results.Add(parentMessage);
            }

            foreach (var child in node.Children.Values)
            {
                if (index == 0 && child.Level.StartsWith('$'))
                {
                    continue; // MQTT-4.7.2-1
                }

                AddAll(child, results);
            }

            return;
        }

        if (level == "+")
        {
            foreach (var child in node.Children.Values)
            {
                if (index == 0 && child.Level.StartsWith('$'))
                {
                    continue; // MQTT-4.7.2-1
                }

                Match(child, levels, index + 1, results);
            }

            return;
        }

        if (node.Children.TryGetValue(level, out var next))
        {
            Match(next, levels, index + 1, results);
        }
    }

    private static void AddAll(Node node, List<Message> results)
    {
        if (node.Message is { } m)
        {
            results.Add(m);
        }

        foreach (var child in node.Children.Values)
        {
            AddAll(child, results);
        }
    }

    /// <summary>Every retained message (for listings and tests).</summary>
    public List<Message> All()
    {
        var results = new List<Message>();
        lock (_lock)
        {
            foreach (var child in _root.Children.Values)
            {
                AddAll(child, results);
            }
        }

        return results;
    }
}
