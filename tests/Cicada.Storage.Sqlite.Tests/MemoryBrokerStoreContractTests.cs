using Cicada.Core.Storage;

namespace Cicada.Storage.Sqlite.Tests;

/// <summary>The in-memory store (<c>--storage memory</c>) against the shared contract.</summary>
public sealed class MemoryBrokerStoreContractTests : BrokerStoreContractTests
{
    protected override IBrokerStore CreateStore() => new MemoryBrokerStore();
}
