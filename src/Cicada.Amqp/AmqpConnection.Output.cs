using System.Buffers;
using System.IO.Pipelines;
using Cicada.Amqp.Protocol;
using Cicada.Amqp.Routing;

namespace Cicada.Amqp;

/// <summary>
/// Output: the read loop's replies gather in <see cref="Out"/> and go out once per read; a reply
/// that must wait for durability (a publisher confirm) is a gate the writer awaits in order.
/// Queue dispatchers write deliveries under the same lock, so frames never interleave.
/// </summary>
internal sealed partial class AmqpConnection
{
    private readonly PipeWriter _output;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly FrameWriter _deliveryOut = new(16 * 1024);
    private readonly FrameWriter _confirmOut = new(64);
    private readonly List<Gate> _gates = [];
    private long _lastSent;

    private enum GateKind : byte
    {
        /// <summary>Only wait (a durable declaration's -ok follows).</summary>
        Wait,

        /// <summary>Then basic.ack, or basic.nack if the task faulted (publisher confirms).</summary>
        Confirm,

        /// <summary>Then tx.commit-ok, or channel.close 541 if the commit could not be made durable.</summary>
        Commit,
    }

    /// <summary>A point in <see cref="Out"/> where writing waits for <see cref="Task"/>, then writes what <see cref="Kind"/> says.</summary>
    private readonly record struct Gate(int Offset, Task Task, ushort Channel, ulong ConfirmTag, GateKind Kind);

    /// <summary>The read loop's reply buffer (read loop only).</summary>
    public FrameWriter Out { get; } = new();

    /// <summary>basic.ack (or basic.nack if the task faults) for <paramref name="tag"/> once <paramref name="durable"/> completes (publisher confirms).</summary>
    public void AddConfirm(ushort channel, ulong tag, Task durable) => _gates.Add(new Gate(Out.Length, durable, channel, tag, GateKind.Confirm));

    /// <summary>What is written to <see cref="Out"/> after this waits for <paramref name="durable"/> (a durable declaration's -ok).</summary>
    public void AddWait(Task durable)
    {
        if (!durable.IsCompletedSuccessfully)
        {
            _gates.Add(new Gate(Out.Length, durable, 0, 0, GateKind.Wait));
        }
    }

    /// <summary>tx.commit-ok once everything the commit changed is durable (§tx.commit).</summary>
    public void AddCommit(ushort channel, Task durable) => _gates.Add(new Gate(Out.Length, durable, channel, 0, GateKind.Commit));

    /// <summary>
    /// Writes the gathered replies. Publisher confirms ready together on one channel go out as one
    /// basic.ack with multiple=true (RabbitMQ's publisher confirms: "multiple" acknowledges every
    /// tag up to the one given); gates are in publish order, so every lower tag is settled by then.
    /// </summary>
    private async Task WriteResponsesAsync()
    {
        if (Out.Length == 0 && _gates.Count == 0)
        {
            return;
        }

        await _writeLock.WaitAsync();
        try
        {
            var position = 0;
            var acks = new AckRun();
            foreach (var gate in _gates)
            {
                if (gate.Offset > position)
                {
                    WriteAcks(ref acks);
                    _output.Write(Out.Written[position..gate.Offset]);
                    position = gate.Offset;
                }

                if (!gate.Task.IsCompleted)
                {
                    WriteAcks(ref acks);
                    await _output.FlushAsync();
                    try
                    {
                        await gate.Task;
                    }
                    catch (Exception)
                    {
                        // Reported below (a nack, a failed commit): the change is not safely made.
                    }
                }

                var ok = gate.Task.IsCompletedSuccessfully;
                switch (gate.Kind)
                {
                    case GateKind.Confirm when ok:
                        if (acks.Count > 0 && acks.Channel == gate.Channel && acks.Tag + 1 == gate.ConfirmTag)
                        {
                            acks = acks with { Tag = gate.ConfirmTag, Count = acks.Count + 1 };
                        }
                        else
                        {
                            WriteAcks(ref acks);
                            acks = new AckRun(gate.Channel, gate.ConfirmTag, 1);
                        }

                        break;
                    case GateKind.Confirm:
                        WriteAcks(ref acks);
                        WriteConfirm(gate.Channel, gate.ConfirmTag, ack: false, multiple: false);
                        break;
                    case GateKind.Commit:
                        WriteAcks(ref acks);
                        WriteCommitOutcome(gate.Channel, ok);
                        break;
                }
            }

            WriteAcks(ref acks);
            _output.Write(Out.Written[position..]);
            Out.Clear();
            _gates.Clear();
            Volatile.Write(ref _lastSent, Environment.TickCount64);
            await _output.FlushAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Consecutive successful confirms of one channel, not yet written.</summary>
    private readonly record struct AckRun(ushort Channel, ulong Tag, int Count);

    private void WriteAcks(ref AckRun acks)
    {
        if (acks.Count > 0)
        {
            WriteConfirm(acks.Channel, acks.Tag, ack: true, multiple: acks.Count > 1);
            acks = default;
        }
    }

    private void WriteConfirm(ushort channel, ulong tag, bool ack, bool multiple)
    {
        _confirmOut.Clear();
        _confirmOut.BeginMethod(channel, ack ? Method.BasicAck : Method.BasicNack);
        _confirmOut.WriteLongLong(tag);
        _confirmOut.WriteBit(multiple);
        if (!ack)
        {
            _confirmOut.WriteBit(false); // requeue
        }

        _confirmOut.EndFrame();
        _output.Write(_confirmOut.Written);
    }

    /// <summary>
    /// tx.commit-ok; or, when the store refused the commit, channel.close 541 INTERNAL_ERROR (the
    /// read loop is suspended while this runs, so the channel can be closed from here).
    /// </summary>
    private void WriteCommitOutcome(ushort channel, bool ok)
    {
        if (!_channels.TryGetValue(channel, out var open))
        {
            return;
        }

        _confirmOut.Clear();
        if (ok)
        {
            _confirmOut.Method0(channel, Method.TxCommitOk);
        }
        else
        {
            AmqpLog.ChannelError(_edge.Logger, Remote, channel, ReplyCode.InternalError, "tx.commit could not be made durable");
            open.Fail(new AmqpException(ReplyCode.InternalError, "tx.commit could not be made durable", Method.TxCommit), _confirmOut);
        }

        _output.Write(_confirmOut.Written);
    }

    private async Task WriteRawAsync(byte[] bytes)
    {
        await _writeLock.WaitAsync();
        try
        {
            await _output.WriteAsync(bytes);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task SendHeartbeatAsync()
    {
        if (!await _writeLock.WaitAsync(0))
        {
            return; // something is being written: that is traffic enough
        }

        try
        {
            _confirmOut.Clear();
            _confirmOut.WriteHeartbeat();
            _output.Write(_confirmOut.Written);
            Volatile.Write(ref _lastSent, Environment.TickCount64);
            await _output.FlushAsync();
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task CompleteOutputAsync()
    {
        await _writeLock.WaitAsync();
        try
        {
            await _output.CompleteAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Writes a message's content header and body frames after its method frame.</summary>
    public void WriteContent(FrameWriter writer, ushort channel, QueuedMessage message) =>
        WriteContent(writer, channel, message.Message.Payload, PropertyMapping.Encoded(message.Message));

    public void WriteContent(FrameWriter writer, ushort channel, ReadOnlyMemory<byte> payload, ReadOnlySpan<byte> properties)
    {
        ContentHeader.Write(writer, channel, (ulong)payload.Length, properties);

        // §4.2.6.2: the body goes in frames of at most frame-max, header and frame-end included.
        var chunk = (int)_frameMax - FrameType.Overhead;
        for (var offset = 0; offset < payload.Length; offset += chunk)
        {
            writer.BeginFrame(FrameType.Body, channel);
            writer.WriteBytes(payload.Span.Slice(offset, Math.Min(chunk, payload.Length - offset)));
            writer.EndFrame();
        }
    }

    /// <summary>Runs <paramref name="write"/> under the write lock with the delivery buffer and copies it out (not flushed).</summary>
    public async ValueTask<bool> WriteDeliveryAsync(Func<FrameWriter, bool> write)
    {
        await _writeLock.WaitAsync();
        try
        {
            _deliveryOut.Clear();
            if (!write(_deliveryOut))
            {
                return false;
            }

            _output.Write(_deliveryOut.Written);
            return true;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async ValueTask FlushAsync()
    {
        await _writeLock.WaitAsync();
        try
        {
            Volatile.Write(ref _lastSent, Environment.TickCount64);
            await _output.FlushAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }
}
