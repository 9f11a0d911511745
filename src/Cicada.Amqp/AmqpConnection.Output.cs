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

    /// <summary>A point in <see cref="Out"/> where writing waits for <see cref="Task"/>; a confirm then writes ack or nack.</summary>
    private readonly record struct Gate(int Offset, Task Task, ushort Channel, ulong ConfirmTag);

    /// <summary>The read loop's reply buffer (read loop only).</summary>
    public FrameWriter Out { get; } = new();

    /// <summary>basic.ack (or basic.nack if the task faults) for <paramref name="tag"/> once <paramref name="durable"/> completes (publisher confirms).</summary>
    public void AddConfirm(ushort channel, ulong tag, Task durable) => _gates.Add(new Gate(Out.Length, durable, channel, tag));

    /// <summary>What is written to <see cref="Out"/> after this waits for <paramref name="durable"/> (a durable declaration's -ok).</summary>
    public void AddWait(Task durable)
    {
        if (!durable.IsCompletedSuccessfully)
        {
            _gates.Add(new Gate(Out.Length, durable, 0, 0));
        }
    }

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
            foreach (var gate in _gates)
            {
                _output.Write(Out.Written[position..gate.Offset]);
                position = gate.Offset;
                if (!gate.Task.IsCompleted)
                {
                    await _output.FlushAsync();
                    try
                    {
                        await gate.Task;
                    }
                    catch (Exception)
                    {
                        // Reported below as a nack: the message is not safely ours.
                    }
                }

                if (gate.ConfirmTag == 0)
                {
                    continue;
                }

                _confirmOut.Clear();
                var ok = gate.Task.IsCompletedSuccessfully;
                _confirmOut.BeginMethod(gate.Channel, ok ? Method.BasicAck : Method.BasicNack);
                _confirmOut.WriteLongLong(gate.ConfirmTag);
                _confirmOut.WriteBit(false); // multiple
                if (!ok)
                {
                    _confirmOut.WriteBit(false); // requeue
                }

                _confirmOut.EndFrame();
                _output.Write(_confirmOut.Written);
            }

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
