using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace Cicada.Server.Transport;

/// <summary>
/// The output of a <see cref="LeanSocketConnection"/>. Writes go to one pooled array (grown when a
/// packet needs it); a flush hands it to a send work item on the thread pool and returns, so what
/// several flushes made meanwhile goes out in one send (a QoS 1 subscriber's drain flushes after a
/// handful of PUBACKs: one syscall each would halve its rate), as Kestrel's send loop does. Past
/// <see cref="MaxQueued"/> unsent bytes a flush waits for the socket. The arrays go back to the pool
/// once sent, so an idle connection holds no buffer. One writer at a time (the MQTT edge holds its
/// write lock); the send work item runs beside it.
/// </summary>
internal sealed class SocketPipeWriter(Socket socket) : PipeWriter, IThreadPoolWorkItem
{
    private const int InitialSize = 4096;
    private const int MaxQueued = 64 * 1024;

    private readonly Lock _lock = new();

    // Writer side: bytes written since the last flush.
    private byte[]? _buffer;
    private int _written;

    // Under _lock: flushed bytes not yet taken by the sender, whether a send pass runs, its failure,
    // and who waits for it (a flush over MaxQueued, CompleteAsync).
    private byte[]? _queued;
    private int _queuedLength;
    private bool _sending;
    private Exception? _error;
    private TaskCompletionSource? _drained;
    private bool _completed;
    private bool _flushedBefore;

    /// <summary>True while a pooled buffer is rented (tests: an idle connection holds none).</summary>
    internal bool HoldsBuffer
    {
        get
        {
            lock (_lock)
            {
                return _buffer is not null || _queued is not null || _sending;
            }
        }
    }

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _written;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsSpan(_written);
    }

    public override void Advance(int bytes)
    {
        if (bytes < 0 || _buffer is null || _written + bytes > _buffer.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "more bytes than the memory handed out");
        }

        _written += bytes;
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        Task? wait = null;
        lock (_lock)
        {
            if (_error is { } error)
            {
                throw error;
            }

            if (_written > 0 && !_sending && !_flushedBefore)
            {
                // The first flush (CONNACK) goes inline: a connection that then idles leaves no
                // send pass behind, and the array goes back to the pool on the thread that rented it.
                _flushedBefore = true;
                int sent;
                try
                {
                    sent = SendNow(_buffer!, _written);
                }
                catch (SocketException ex)
                {
                    throw SocketPipeReader.Translate(ex);
                }
                catch (ObjectDisposedException ex)
                {
                    throw new ConnectionAbortedException("the connection was aborted", ex);
                }

                if (sent == _written)
                {
                    ReleaseWriterBuffer();
                    return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: false));
                }

                _buffer.AsSpan(sent, _written - sent).CopyTo(_buffer);
                _written -= sent;
            }

            if (_written > 0)
            {
                _flushedBefore = true;
                Enqueue();
                if (!_sending)
                {
                    _sending = true;
                    ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
                }
                else if (_queuedLength > MaxQueued)
                {
                    wait = Drained();
                }
            }
        }

        return wait is null
            ? new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: false))
            : WaitAsync(wait, cancellationToken);
    }

    /// <summary>Not supported: a flush ends when its bytes are handed over, or fails with the connection.</summary>
    public override void CancelPendingFlush()
    {
    }

    public override void Complete(Exception? exception = null)
    {
        // What was written still goes (the send pass finishes on its own); nothing waits for it.
        if (exception is null && !_completed && _written > 0)
        {
            try
            {
                _ = FlushAsync();
            }
            catch (Exception ex) when (ex is IOException or ConnectionAbortedException or ObjectDisposedException)
            {
                // The peer is gone.
            }
        }

        _completed = true;
        ReleaseWriterBuffer();
    }

    public override async ValueTask CompleteAsync(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }

        if (exception is null)
        {
            try
            {
                await FlushAsync().ConfigureAwait(false);
                // The connection closes the socket after this: everything flushed must be out first
                // (a DISCONNECT, say), or the close would cut it off.
                Task? wait;
                lock (_lock)
                {
                    wait = _sending ? Drained() : null;
                }

                if (wait is not null)
                {
                    await wait.ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or ConnectionAbortedException or ObjectDisposedException or OperationCanceledException)
            {
                // The peer is gone.
            }
        }

        _completed = true;
        ReleaseWriterBuffer();
    }

    /// <summary>The send pass: sends what is queued until nothing is, then stops.</summary>
    void IThreadPoolWorkItem.Execute() => _ = SendPassAsync();

    private async Task SendPassAsync()
    {
        while (true)
        {
            byte[]? sending;
            int length;
            lock (_lock)
            {
                sending = _queued;
                length = _queuedLength;
                _queued = null;
                _queuedLength = 0;
                if (sending is null || _error is not null)
                {
                    _sending = false;
                    SignalDrained();
                    if (sending is not null)
                    {
                        ArrayPool<byte>.Shared.Return(sending);
                    }

                    return;
                }
            }

            try
            {
                var sent = SendNow(sending, length);
                while (sent < length)
                {
                    // The peer's window is full: wait for room (only now does the socket keep send state).
                    sent += await socket.SendAsync(sending.AsMemory(sent, length - sent), SocketFlags.None).ConfigureAwait(false);
                }
            }
            catch (Exception ex)
            {
                var error = ex switch
                {
                    SocketException socketError => SocketPipeReader.Translate(socketError),
                    ObjectDisposedException => new ConnectionAbortedException("the connection was aborted", ex),
                    _ => ex,
                };
                lock (_lock)
                {
                    _error = error;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(sending);
            }
        }
    }

    /// <summary>Sends what the socket takes without blocking; returns how many bytes went.</summary>
    private int SendNow(byte[] buffer, int length)
    {
        var sent = 0;
        while (sent < length)
        {
            var count = socket.Send(buffer.AsSpan(sent, length - sent), SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                break;
            }

            if (error != SocketError.Success)
            {
                throw new SocketException((int)error);
            }

            sent += count;
        }

        return sent;
    }

    /// <summary>Moves the written bytes to the send queue (under the lock).</summary>
    private void Enqueue()
    {
        if (_queued is null)
        {
            _queued = _buffer;
            _queuedLength = _written;
            _buffer = null;
        }
        else
        {
            if (_queued.Length - _queuedLength < _written)
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_queued.Length * 2, _queuedLength + _written));
                _queued.AsSpan(0, _queuedLength).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_queued);
                _queued = larger;
            }

            _buffer.AsSpan(0, _written).CopyTo(_queued.AsSpan(_queuedLength));
            _queuedLength += _written;
        }

        _written = 0;
    }

    private Task Drained() => (_drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    private void SignalDrained()
    {
        _drained?.TrySetResult();
        _drained = null;
    }

    private async ValueTask<FlushResult> WaitAsync(Task drained, CancellationToken cancellationToken)
    {
        await drained.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            if (_error is { } error)
            {
                throw error;
            }
        }

        return new FlushResult(isCanceled: false, isCompleted: false);
    }

    private void Reserve(int sizeHint)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        var needed = Math.Max(sizeHint, 1);
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(InitialSize, needed));
            _written = 0;
            return;
        }

        if (_buffer.Length - _written >= needed)
        {
            return;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _written + needed));
        _buffer.AsSpan(0, _written).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }

    private void ReleaseWriterBuffer()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            _written = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
