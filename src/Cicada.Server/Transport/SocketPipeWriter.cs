using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;

namespace Cicada.Server.Transport;

/// <summary>
/// The output of a <see cref="LeanSocketConnection"/>: writes go to one pooled array (grown when a
/// packet needs it), a flush sends it with non-blocking sends on the flushing thread and returns
/// the array, so an idle connection holds no buffer. Only when the peer's window is full does a
/// flush wait on an asynchronous send. One writer at a time (the MQTT edge holds its write lock).
/// </summary>
internal sealed class SocketPipeWriter(Socket socket) : PipeWriter
{
    private const int InitialSize = 4096;

    private byte[]? _buffer;
    private int _written;
    private bool _completed;

    /// <summary>True while a pooled buffer is rented (tests: an idle connection holds none).</summary>
    internal bool HoldsBuffer => _buffer is not null;

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
        var sent = SendNow();
        if (sent == _written)
        {
            Release();
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: false));
        }

        return SendRestAsync(sent, cancellationToken);
    }

    /// <summary>Not supported: a flush ends when its bytes are out, or fails with the connection.</summary>
    public override void CancelPendingFlush()
    {
    }

    public override void Complete(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }

        // What was written but not flushed still goes, as far as the socket takes it without waiting.
        if (exception is null && _written > 0)
        {
            try
            {
                SendNow();
            }
            catch (Exception ex) when (ex is IOException or ConnectionAbortedException or ObjectDisposedException)
            {
                // The peer is gone.
            }
        }

        _completed = true;
        Release();
    }

    public override async ValueTask CompleteAsync(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }

        if (exception is null && _written > 0)
        {
            try
            {
                await FlushAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or ConnectionAbortedException or ObjectDisposedException or OperationCanceledException)
            {
                // The peer is gone.
            }
        }

        _completed = true;
        Release();
    }

    /// <summary>Sends what the socket takes without blocking; returns how many bytes went.</summary>
    private int SendNow()
    {
        var sent = 0;
        while (sent < _written)
        {
            int count;
            SocketError error;
            try
            {
                count = socket.Send(_buffer.AsSpan(sent, _written - sent), SocketFlags.None, out error);
            }
            catch (ObjectDisposedException ex)
            {
                throw new ConnectionAbortedException("the connection was aborted", ex);
            }

            if (error == SocketError.WouldBlock)
            {
                break;
            }

            if (error != SocketError.Success)
            {
                throw SocketPipeReader.Translate(new SocketException((int)error));
            }

            sent += count;
        }

        return sent;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FlushResult> SendRestAsync(int sent, CancellationToken cancellationToken)
    {
        try
        {
            while (sent < _written)
            {
                sent += await socket.SendAsync(_buffer.AsMemory(sent, _written - sent), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (SocketException ex)
        {
            throw SocketPipeReader.Translate(ex);
        }
        catch (ObjectDisposedException ex)
        {
            throw new ConnectionAbortedException("the connection was aborted", ex);
        }

        Release();
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

    private void Release()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            _written = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
