using Cicada.Core.Storage;

namespace Cicada.Storage.Sqlite;

/// <summary>
/// One queued mutation. It is its own completion source (one allocation per call): the writer
/// completes it after the transaction holding it has committed. Continuations run
/// asynchronously so callers never run on, or stall, the writer thread.
/// </summary>
internal abstract class WriteOperation() : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
{
    /// <summary>Runs inside the open batch transaction on the writer thread.</summary>
    public abstract void Apply(WriterStatements statements);
}

internal sealed class EnqueueOperation(long messageId, bool isNew, StoredMessage message, QueueTarget[] targets,
    ReceivedId? receivedId = null) : WriteOperation
{
    public override void Apply(WriterStatements statements)
    {
        statements.Enqueue(messageId, isNew, message, targets);
        if (receivedId is { } id)
        {
            statements.AddReceivedId(id.ClientId, id.Id);
        }
    }
}

internal sealed class UpdateDeliveryOperation(string clientId, long seq, int packetId, DeliveryState state) : WriteOperation
{
    public override void Apply(WriterStatements statements) => statements.UpdateDelivery(clientId, seq, packetId, state);
}

internal sealed class RemoveDeliveryOperation(string clientId, long seq) : WriteOperation
{
    public override void Apply(WriterStatements statements) => statements.RemoveDelivery(clientId, seq);
}

internal sealed class SetRetainedOperation(StoredMessage message) : WriteOperation
{
    public override void Apply(WriterStatements statements) => statements.SetRetained(message);
}

internal sealed class ClearRetainedOperation(string topic) : WriteOperation
{
    public override void Apply(WriterStatements statements) => statements.ClearRetained(topic);
}

internal sealed class SaveSessionOperation(string clientId, uint expirySeconds, long? disconnectedAt) : WriteOperation
{
    public override void Apply(WriterStatements statements) => statements.SaveSession(clientId, expirySeconds, disconnectedAt);
}

internal sealed class DeleteSessionOperation(string clientId) : WriteOperation
{
    public override void Apply(WriterStatements statements) => statements.DeleteSession(clientId);
}

internal sealed class AddSubscriptionOperation(string clientId, SubscriptionRecord subscription) : WriteOperation
{
    public override void Apply(WriterStatements statements) => statements.AddSubscription(clientId, subscription);
}

internal sealed class RemoveSubscriptionOperation(string clientId, string filter) : WriteOperation
{
    public override void Apply(WriterStatements statements) => statements.RemoveSubscription(clientId, filter);
}

internal sealed class AddReceivedIdOperation(string clientId, int id) : WriteOperation
{
    public override void Apply(WriterStatements statements) => statements.AddReceivedId(clientId, id);
}

internal sealed class RemoveReceivedIdOperation(string clientId, int id) : WriteOperation
{
    public override void Apply(WriterStatements statements) => statements.RemoveReceivedId(clientId, id);
}

/// <summary>Runs arbitrary code on the writer inside a batch (tests: pragmas, failure injection).</summary>
internal sealed class DelegateOperation(Action<WriterStatements> action) : WriteOperation
{
    public override void Apply(WriterStatements statements) => action(statements);
}
