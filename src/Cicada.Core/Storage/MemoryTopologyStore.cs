namespace Cicada.Core.Storage;

/// <summary>The non-durable topology store (<c>--storage memory</c>, tests): records live as long as the process.</summary>
public sealed class MemoryTopologyStore : ITopologyStore
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, string> _records = new(StringComparer.Ordinal);

    public Task<IReadOnlyList<TopologyRecord>> LoadTopologyAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<TopologyRecord>>(_records.Select(r => new TopologyRecord(r.Key, r.Value)).ToList());
        }
    }

    public Task SaveTopologyAsync(TopologyRecord record)
    {
        lock (_lock)
        {
            _records[record.Key] = record.Value;
        }

        return Task.CompletedTask;
    }

    public Task DeleteTopologyAsync(string key)
    {
        lock (_lock)
        {
            _records.Remove(key);
        }

        return Task.CompletedTask;
    }
}
