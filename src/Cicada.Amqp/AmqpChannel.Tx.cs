using System.Globalization;
using Cicada.Amqp.Protocol;
using Cicada.Amqp.Routing;

namespace Cicada.Amqp;

/// <summary>
/// tx.select / tx.commit / tx.rollback (AMQP 0-9-1 §1.9 class tx): on a transactional channel,
/// publishes and acknowledgements are held until tx.commit applies them (tx.commit-ok once they
/// are durable) or tx.rollback discards them. Transactions and publisher confirms exclude each
/// other (RabbitMQ: 406 either way).
/// </summary>
internal sealed partial class AmqpChannel
{
    private bool _tx;
    private List<PendingPublish>? _txPublishes;
    private List<(List<KeyValuePair<ulong, Unacked>> Settled, bool Requeue)>? _txSettles;

    private void TxSelect()
    {
        if (_confirm)
        {
            Throw.Channel(ReplyCode.PreconditionFailed, "cannot switch from confirm to tx mode", Method.TxSelect);
        }

        _tx = true;
        Out.Method0(Number, Method.TxSelectOk);
    }

    private void TxCommit()
    {
        if (!_tx)
        {
            // §tx.commit: "The client MUST NOT use the Commit method on non-transacted channels" (406 in RabbitMQ).
            Throw.Channel(ReplyCode.PreconditionFailed, "channel is not transactional", Method.TxCommit);
        }

        var durable = new List<Task>();
        if (_txPublishes is { Count: > 0 } publishes)
        {
            // In publish order; a mandatory message nobody takes comes back now, before commit-ok.
            foreach (var publish in publishes)
            {
                var task = RouteNow(publish);
                if (!task.IsCompletedSuccessfully)
                {
                    durable.Add(WithoutRefusals(task));
                }
            }

            publishes.Clear();
        }

        if (_txSettles is { Count: > 0 } settles)
        {
            foreach (var (settled, requeue) in settles)
            {
                FinishDurably(settled, requeue, durable);
            }

            settles.Clear();
        }

        var all = durable.Count == 0 ? Task.CompletedTask : Task.WhenAll(durable);
        _connection.Edge.Watch(all);
        _connection.AddCommit(Number, all);
    }

    private void TxRollback()
    {
        if (!_tx)
        {
            Throw.Channel(ReplyCode.PreconditionFailed, "channel is not transactional", Method.TxRollback);
        }

        DiscardTransaction();
        Out.Method0(Number, Method.TxRollbackOk);
    }

    /// <summary>
    /// Forgets held publishes; held acknowledgements are undone, so those deliveries are
    /// unacknowledged again (RabbitMQ's rollback: they are neither requeued nor redelivered by it).
    /// </summary>
    private void DiscardTransaction()
    {
        _txPublishes?.Clear();
        if (_txSettles is not { Count: > 0 } settles)
        {
            return;
        }

        lock (_lock)
        {
            foreach (var (settled, _) in settles)
            {
                foreach (var (tag, unacked) in settled)
                {
                    _unacked[tag] = unacked;
                }
            }
        }

        settles.Clear();
    }

    /// <summary>As <see cref="Finish"/>, collecting the store writes of acknowledged messages into <paramref name="durable"/>.</summary>
    private void FinishDurably(List<KeyValuePair<ulong, Unacked>> settled, bool requeue, List<Task> durable)
    {
        if (requeue)
        {
            // Back in the queue: nothing changes on disk (the message stays stored until acknowledged).
            Finish(settled.ConvertAll(e => e.Value), requeue: true);
            return;
        }

        foreach (var (_, u) in settled)
        {
            u.Consumer?.Release();
            var task = u.Queue.CompleteDurably(u.Message);
            if (!task.IsCompletedSuccessfully)
            {
                durable.Add(task);
            }
        }

        foreach (var queue in settled.Select(e => e.Value.Queue).Distinct())
        {
            queue.OnDeliveriesPending();
        }
    }

    /// <summary>A full reject-publish queue drops a committed message (nobody to nack in tx mode); only a store failure fails the commit.</summary>
    private static async Task WithoutRefusals(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception) when (task.Exception!.Flatten().InnerExceptions.All(e => e is PublishRefusedException))
        {
        }
    }

    /// <summary>
    /// RabbitMQ's per-message TTL: <c>expiration</c> is a non-negative integer of milliseconds as
    /// text; anything else is refused with 406 PRECONDITION_FAILED.
    /// </summary>
    private static void CheckExpiration(BasicProperties properties)
    {
        if (properties.Expiration is { } text
            && !(long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms <= uint.MaxValue))
        {
            Throw.Channel(ReplyCode.PreconditionFailed, $"invalid expiration '{text}': a non-negative integer of milliseconds is expected", Method.BasicPublish);
        }
    }
}
