using Cicada.Amqp.Protocol;

namespace Cicada.Amqp;

/// <summary>
/// What the edge asks of a connection from outside its read loop: a graceful stop
/// (connection.close 320 CONNECTION_FORCED, RabbitMQ's "broker shutdown") and
/// connection.blocked / connection.unblocked (RabbitMQ's extension, capability connection.blocked).
/// </summary>
internal sealed partial class AmqpConnection
{
    private volatile bool _stopRequested;
    private volatile bool _opened;
    private int _blockedSent;

    /// <summary>connection.blocked in the client's capabilities: only such clients are sent blocked/unblocked (RabbitMQ's rule).</summary>
    public bool BlockedNotify { get; private set; }

    /// <summary>The broker is stopping: the read loop sends connection.close 320 and waits (briefly) for close-ok.</summary>
    public void RequestStop()
    {
        _stopRequested = true;
        _input.CancelPendingRead();
        _ = AbortIfStillOpenAsync();
    }

    private async Task AbortIfStillOpenAsync()
    {
        // A client that never answers close-ok must not hold the shutdown up.
        await Task.Delay(TimeSpan.FromSeconds(3));
        try
        {
            Abort("no connection.close-ok after the broker's shutdown close");
        }
        catch (ObjectDisposedException)
        {
            // The connection had already ended.
        }
    }

    /// <summary>
    /// On the read loop once a stop is requested: connection.close 320 (§connection.close; a RabbitMQ
    /// client takes 320 as a clean server shutdown). Returns a reason when the connection just ends
    /// (not open yet, so there is nobody to tell).
    /// </summary>
    private string? BeginServerClose()
    {
        if (_state == State.Closing)
        {
            return null;
        }

        if (_state < State.Open)
        {
            return "broker shutdown before the connection was open";
        }

        Out.BeginMethod(0, Method.ConnectionClose);
        Out.WriteShort(ReplyCode.ConnectionForced);
        Out.WriteShortString("CONNECTION_FORCED - broker shutdown");
        Out.WriteShort(0);
        Out.WriteShort(0);
        Out.EndFrame();
        _state = State.Closing;
        _closingSince = Environment.TickCount64;
        _abortReason ??= "broker shutdown (connection.close 320 sent)";
        return null;
    }

    /// <summary>After open-ok: a client connecting while the broker is blocked is told at once (RabbitMQ does so).</summary>
    private void OnOpened()
    {
        _opened = true;
        if (_edge.BlockedReason is { } reason)
        {
            AfterFlush(() => SetBlocked(true, reason));
        }
    }

    /// <summary>Sends connection.blocked or connection.unblocked when that changes what the client was last told. Any thread.</summary>
    public void SetBlocked(bool blocked, string reason)
    {
        if (!_opened || !BlockedNotify)
        {
            return;
        }

        var state = blocked ? 1 : 0;
        if (Interlocked.Exchange(ref _blockedSent, state) == state)
        {
            return;
        }

        _ = WriteBlockedAsync(blocked, reason);
    }

    private async Task WriteBlockedAsync(bool blocked, string reason)
    {
        try
        {
            await WriteDeliveryAsync(writer =>
            {
                writer.BeginMethod(0, blocked ? Method.ConnectionBlocked : Method.ConnectionUnblocked);
                if (blocked)
                {
                    writer.WriteShortString(Truncate(reason));
                }

                writer.EndFrame();
                return true;
            });
            await FlushAsync();
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection is going anyway.
        }
    }
}
