namespace Cicada.Core.Storage;

/// <summary>
/// One durable declaration an edge's clients made (a queue, an exchange, a binding): a key the
/// edge chooses (prefixed with its own name, so edges cannot collide) and an opaque value the edge
/// alone reads. Core never interprets either.
/// </summary>
public sealed record TopologyRecord(string Key, string Value);

/// <summary>
/// Durable named objects of edges whose protocols let clients declare them (AMQP queues,
/// exchanges and bindings). Writes are ordered and the task completes once durable, as in
/// <see cref="IBrokerStore"/>.
/// </summary>
public interface ITopologyStore
{
    Task<IReadOnlyList<TopologyRecord>> LoadTopologyAsync(CancellationToken cancellationToken);

    /// <summary>Inserts or replaces the record with <see cref="TopologyRecord.Key"/>.</summary>
    Task SaveTopologyAsync(TopologyRecord record);

    Task DeleteTopologyAsync(string key);
}
