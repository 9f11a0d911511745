using System.Collections.Concurrent;

namespace Cicada.Core.Topics;

/// <summary>One subscription of one subscriber to one filter (possibly shared: <c>$share/{group}/{filter}</c>).</summary>
public sealed class Subscription
{
    public Subscription(ISubscriber subscriber, string filter, SubscriptionOptions options)
    {
        Subscriber = subscriber;
        Filter = filter;
        Options = options;
        if (TopicValidator.TryParseShared(filter, out var group, out var inner, out _))
        {
            ShareGroup = group;
            TopicFilter = inner;
        }
        else
        {
            TopicFilter = filter;
        }
    }

    public ISubscriber Subscriber { get; }

    /// <summary>The filter as subscribed, <c>$share/…</c> prefix included.</summary>
    public string Filter { get; }

    /// <summary>The filter topics are matched against (without the share prefix).</summary>
    public string TopicFilter { get; }

    /// <summary>The share group name, or null for an ordinary subscription.</summary>
    public string? ShareGroup { get; }

    public SubscriptionOptions Options { get; }
}

/// <summary>Anything that can hold subscriptions (a session; later a bridge).</summary>
public interface ISubscriber
{
    /// <summary>Connected now: a shared subscription prefers such members.</summary>
    bool IsConnected { get; }
}

/// <summary>
/// The members of one share group on one filter (MQTT 5 §4.8.2): each message goes to one
/// member, round-robin, preferring connected ones.
/// </summary>
internal sealed class ShareGroup(string name)
{
    private int _next = -1;

    public string Name { get; } = name;

    public Subscription[] Members = [];

    public Subscription? Pick(ISubscriber? except = null)
    {
        var members = Members;
        if (members.Length == 0)
        {
            return null;
        }

        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)members.Length);
        Subscription? fallback = null;
        for (var i = 0; i < members.Length; i++)
        {
            var candidate = members[(start + i) % members.Length];
            if (ReferenceEquals(candidate.Subscriber, except))
            {
                continue;
            }

            if (candidate.Subscriber.IsConnected)
            {
                return candidate;
            }

            fallback ??= candidate;
        }

        return fallback;
    }
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
        public Subscription[] Subscriptions = [];
        public volatile ShareGroup[] Groups = [];
        public volatile Node? Plus;
        public volatile Node? Hash;

        public bool IsEmpty => Subscriptions.Length == 0 && Groups.Length == 0 && Children.IsEmpty && Plus is null && Hash is null;
    }

    /// <summary>Adds or replaces the subscriber's subscription to <paramref name="filter"/>; true when it is new.</summary>
    public bool Add(Subscription subscription)
    {
        lock (_writeLock)
        {
            var node = _root;
            foreach (var level in subscription.TopicFilter.Split('/'))
            {
                node = level switch
                {
                    "+" => node.Plus ??= new Node(node, level),
                    "#" => node.Hash ??= new Node(node, level),
                    _ => node.Children.GetOrAdd(level, static (l, p) => new Node(p, l), node),
                };
            }

            if (subscription.ShareGroup is { } groupName)
            {
                var group = Array.Find(node.Groups, g => g.Name == groupName);
                if (group is null)
                {
                    group = new ShareGroup(groupName);
                    node.Groups = [.. node.Groups, group];
                }

                var added = Replace(ref group.Members, subscription);
                if (added)
                {
                    _count++;
                }

                return added;
            }

            if (!Replace(ref node.Subscriptions, subscription))
            {
                return false;
            }

            _count++;
            return true;
        }
    }

    /// <summary>Puts <paramref name="subscription"/> in place of the subscriber's one, or appends it; true when appended.</summary>
    private static bool Replace(ref Subscription[] array, Subscription subscription)
    {
        var subs = Volatile.Read(ref array);
        for (var i = 0; i < subs.Length; i++)
        {
            if (ReferenceEquals(subs[i].Subscriber, subscription.Subscriber))
            {
                var copy = (Subscription[])subs.Clone();
                copy[i] = subscription;
                Volatile.Write(ref array, copy);
                return false;
            }
        }

        Volatile.Write(ref array, [.. subs, subscription]);
        return true;
    }

    /// <summary>Removes the subscriber's subscription to <paramref name="filter"/>; true when there was one.</summary>
    public bool Remove(ISubscriber subscriber, string filter)
    {
        var shared = TopicValidator.TryParseShared(filter, out var groupName, out var inner, out _);
        lock (_writeLock)
        {
            var node = _root;
            foreach (var level in inner.Split('/'))
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

            if (shared)
            {
                var group = Array.Find(node.Groups, g => g.Name == groupName);
                if (group is null || !Without(ref group.Members, subscriber))
                {
                    return false;
                }

                if (group.Members.Length == 0)
                {
                    node.Groups = Array.FindAll(node.Groups, g => !ReferenceEquals(g, group));
                }
            }
            else if (!Without(ref node.Subscriptions, subscriber))
            {
                return false;
            }

            _count--;
            Prune(node);
            return true;
        }
    }

    private static bool Without(ref Subscription[] array, ISubscriber subscriber)
    {
        var subs = Volatile.Read(ref array);
        var index = Array.FindIndex(subs, s => ReferenceEquals(s.Subscriber, subscriber));
        if (index < 0)
        {
            return false;
        }

        Volatile.Write(ref array, subs.Length == 1 ? [] : [.. subs[..index], .. subs[(index + 1)..]]);
        return true;
    }

    /// <summary>Another member of the share group <paramref name="via"/> belongs to, for redistribution.</summary>
    public Subscription? PickShared(Subscription via)
    {
        var node = _root;
        foreach (var level in via.TopicFilter.Split('/'))
        {
            Node? next = level switch
            {
                "+" => node.Plus,
                "#" => node.Hash,
                _ => node.Children.TryGetValue(level, out var c) ? c : null,
            };
            if (next is null)
            {
                return null;
            }

            node = next;
        }

        return Array.Find(node.Groups, g => g.Name == via.ShareGroup)?.Pick(via.Subscriber);
    }

    private static void AddMatches(Node node, List<Subscription> results)
    {
        results.AddRange(node.Subscriptions);
        foreach (var group in node.Groups)
        {
            if (group.Pick() is { } member)
            {
                results.Add(member);
            }
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
            AddMatches(node, results);
            if (node.Hash is { } parentHash)
            {
                AddMatches(parentHash, results); // "a/#" matches "a" (MQTT-4.7.1-2)
            }

            return;
        }

        if (!noWildcard && node.Hash is { } hash)
        {
            AddMatches(hash, results);
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
