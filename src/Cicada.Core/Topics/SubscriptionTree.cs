using System.Collections.Concurrent;

namespace Cicada.Core.Topics;

/// <summary>One subscription of one subscriber to one filter.</summary>
public sealed class Subscription(ISubscriber subscriber, string filter, SubscriptionOptions options)
{
    public ISubscriber Subscriber { get; } = subscriber;
    public string Filter { get; } = filter;
    public SubscriptionOptions Options { get; } = options;
}

/// <summary>Anything that can hold subscriptions (a session; later a bridge, an AMQP queue).</summary>
public interface ISubscriber
{
}

/// <summary>
/// The subscription trie. Matching walks the topic's levels: its cost depends on the topic's
/// depth and on the matching subscriptions, never on how many clients are connected. Readers
/// take no lock (children in concurrent dictionaries, subscriber arrays swapped whole); writers
/// serialise on one lock.
/// </summary>
public sealed class SubscriptionTree
{
    private readonly Node _root = new(null, string.Empty);
    private readonly Lock _writeLock = new();
    private int _count;

    public int Count => Volatile.Read(ref _count);

    private sealed class Node(Node? parent, string level)
    {
        public readonly Node? Parent = parent;
        public readonly string Level = level;
        public readonly ConcurrentDictionary<string, Node> Children = new(StringComparer.Ordinal);
        public volatile Subscription[] Subscriptions = [];
        public volatile Node? Plus;
        public volatile Node? Hash;

        public bool IsEmpty => Subscriptions.Length == 0 && Children.IsEmpty && Plus is null && Hash is null;
    }

    /// <summary>Adds or replaces the subscriber's subscription to <paramref name="filter"/>; true when it is new.</summary>
    public bool Add(Subscription subscription)
    {
        lock (_writeLock)
        {
            var node = _root;
            foreach (var level in subscription.Filter.Split('/'))
            {
                node = level switch
                {
                    "+" => node.Plus ??= new Node(node, level),
                    "#" => node.Hash ??= new Node(node, level),
                    _ => node.Children.GetOrAdd(level, static (l, p) => new Node(p, l), node),
                };
            }

            var subs = node.Subscriptions;
            for (var i = 0; i < subs.Length; i++)
            {
                if (ReferenceEquals(subs[i].Subscriber, subscription.Subscriber))
                {
                    var copy = (Subscription[])subs.Clone();
                    copy[i] = subscription;
                    node.Subscriptions = copy;
                    return false;
                }
            }

            node.Subscriptions = [.. subs, subscription];
            _count++;
            return true;
        }
    }

    /// <summary>Removes the subscriber's subscription to <paramref name="filter"/>; true when there was one.</summary>
    public bool Remove(ISubscriber subscriber, string filter)
    {
        lock (_writeLock)
        {
            var node = _root;
            foreach (var level in filter.Split('/'))
            {
                Node? next = level switch
                {
                    "+" => node.Plus,
                    "#" => node.Hash,
                    _ => node.Children.TryGetValue(level, out var c) ? c : null,
                };
                if (next is null)
                {
                    return false;
                }

                node = next;
            }

            var subs = node.Subscriptions;
            var index = Array.FindIndex(subs, s => ReferenceEquals(s.Subscriber, subscriber));
            if (index < 0)
            {
                return false;
            }

            node.Subscriptions = subs.Length == 1 ? [] : [.. subs[..index], .. subs[(index + 1)..]];
            _count--;
            Prune(node);
            return true;
        }
    }

    private static void Prune(Node node)
    {
        while (node.Parent is { } parent && node.IsEmpty)
        {
            if (ReferenceEquals(parent.Plus, node))
            {
                parent.Plus = null;
            }
            else if (ReferenceEquals(parent.Hash, node))
            {
                parent.Hash = null;
            }
            else
            {
                parent.Children.TryRemove(node.Level, out _);
            }

            node = parent;
        }
    }

    /// <summary>Appends every subscription whose filter matches <paramref name="topic"/> (MQTT-4.7).</summary>
    public void Match(string topic, List<Subscription> results)
    {
        // MQTT-4.7.2-1: wildcards at the first level do not match topics starting with '$'.
        var dollar = topic.Length > 0 && topic[0] == '$';
        Match(_root, topic, 0, dollar, results);
    }

    private static void Match(Node node, string topic, int start, bool noWildcard, List<Subscription> results)
    {
        if (start > topic.Length)
        {
            results.AddRange(node.Subscriptions);
            if (node.Hash is { } parentHash)
            {
                results.AddRange(parentHash.Subscriptions); // "a/#" matches "a" (MQTT-4.7.1-2)
            }

            return;
        }

        if (!noWildcard && node.Hash is { } hash)
        {
            results.AddRange(hash.Subscriptions);
        }

        var end = topic.IndexOf('/', start);
        if (end < 0)
        {
            end = topic.Length;
        }

        var lookup = node.Children.GetAlternateLookup<ReadOnlySpan<char>>();
        if (!node.Children.IsEmpty && lookup.TryGetValue(topic.AsSpan(start, end - start), out var child))
        {
            Match(child, topic, end + 1, false, results);
        }

        if (!noWildcard && node.Plus is { } plus)
        {
            Match(plus, topic, end + 1, false, results);
        }
    }
}
