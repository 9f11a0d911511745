using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;

namespace Cicada.Server.Transport;

/// <summary>
/// The input of a <see cref="LeanSocketConnection"/>: one pooled array, rented when data arrives and
/// returned as soon as everything in it is consumed, so an idle connection holds no buffer, only its
/// pending zero-byte receive. Data is taken with non-blocking receives (the socket is non-blocking),
/// so a read with data waiting completes synchronously, without the socket's async machinery.
/// Single reader, as the <see cref="PipeReader"/> contract says.
/// </summary>
internal sealed class SocketPipeReader(Socket socket) : PipeReader
{
    private const int InitialSize = 4096;
    private const int MinimumFree = 1024;

    private byte[]? _buffer;
    private int _start;
    private int _end;
    // The last AdvanceTo examined everything: the next read must wait for more bytes.
    private bool _examinedAll;
    private bool _endOfStream;
    private bool _completed;
    private int _cancelRequested;
    private volatile bool _aborted;

    /// <summary>True while a pooled buffer is rented (tests: an idle connection holds none).</summary>
    internal bool HoldsBuffer => _buffer is not null;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (TryTakeResult(out var result))
        {
            return new ValueTask<ReadResult>(result);
        }

        return WaitAsync(cancellationToken);
    }

    public override bool TryRead(out ReadResult result)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        return TryTakeResult(out result);
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (_buffer is null)
        {
            return;
        }

        // Positions of an array-backed sequence are indexes into that array (our buffer).
        var consumedIndex = consumed.GetObject() is null ? _start : consumed.GetInteger();
        var examinedIndex = examined.GetObject() is null ? consumedIndex : examined.GetInteger();
        if (consumedIndex < _start || consumedIndex > _end || examinedIndex < consumedIndex || examinedIndex > _end)
        {
            throw new InvalidOperationException("AdvanceTo with a position outside the last read's buffer");
        }

        _start = consumedIndex;
        _examinedAll = examinedIndex == _end;
        if (_start == _end)
        {
            ReturnBuffer();
        }
    }

    /// <summary>
    /// Wakes a pending read, which returns with <see cref="ReadResult.IsCanceled"/>. In this transport
    /// a cancelled read ends the input for good (the receive side of the socket is shut down, the only
    /// way to end a pending receive on Linux without a token per connection): its one use is the
    /// MQTT edge ending its read loop before it closes the connection.
    /// </summary>
    public override void CancelPendingRead()
    {
        Volatile.Write(ref _cancelRequested, 1);
        try
        {
            socket.Shutdown(SocketShutdown.Receive);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Closed already: the pending read ends anyway.
        }
    }

    /// <summary>The connection is being aborted: every read from now on fails as aborted.</summary>
    internal void MarkAborted() => _aborted = true;

    public override void Complete(Exception? exception = null)
    {
        _completed = true;
        ReturnBuffer();
    }

    private bool TryTakeResult(out ReadResult result)
    {
        if (_aborted)
        {
            throw new ConnectionAbortedException("the connection was aborted");
        }

        if (Interlocked.Exchange(ref _cancelRequested, 0) == 1)
        {
            result = new ReadResult(Buffered(), isCanceled: true, isCompleted: _endOfStream);
            return true;
        }

        if ((_end > _start && !_examinedAll) || _endOfStream || TryReceive())
        {
            result = new ReadResult(Buffered(), isCanceled: false, isCompleted: _endOfStream);
            return true;
        }

        result = default;
        return false;
    }

    private ReadOnlySequence<byte> Buffered() =>
        _buffer is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(_buffer, _start, _end - _start);

    /// <summary>A non-blocking receive: true when it got bytes or the end of the stream, false when none are there.</summary>
    private bool TryReceive()
    {
        MakeRoom();
        int received;
        SocketError error;
        try
        {
            received = socket.Receive(_buffer.AsSpan(_end), SocketFlags.None, out error);
        }
        catch (ObjectDisposedException ex)
        {
            // Aborted (the socket disposed) between the zero-byte wait and this receive: the same
            // end as an abort during the wait, whichever came first.
            throw new ConnectionAbortedException("the connection was aborted", ex);
        }

        switch (error)
        {
            case SocketError.Success when received == 0:
                _endOfStream = true;
                return true;
            case SocketError.Success:
                _end += received;
                _examinedAll = false;
                return true;
            case SocketError.WouldBlock:
                if (_start == _end)
                {
                    ReturnBuffer(); // wait empty-handed
                }

                return false;
            default:
                throw Translate(new SocketException((int)error));
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> WaitAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                // Zero bytes: completes when data (or the end) is there, with no buffer held meanwhile.
                await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                throw Translate(ex);
            }
            catch (ObjectDisposedException ex)
            {
                throw new ConnectionAbortedException("the connection was aborted", ex);
            }

            ObjectDisposedException.ThrowIf(_completed, this);
            if (TryTakeResult(out var result))
            {
                return result;
            }
        }
    }

    private void MakeRoom()
    {
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(InitialSize);
            _start = _end = 0;
            return;
        }

        if (_buffer.Length - _end >= MinimumFree)
        {
            return;
        }

        var length = _end - _start;
        if (_start > 0 && _buffer.Length - length >= MinimumFree)
        {
            // Slide the unconsumed tail to the front (no sequence of ours is outstanding during a read).
            _buffer.AsSpan(_start, length).CopyTo(_buffer);
        }
        else
        {
            // A packet larger than the buffer: grow (up to the edge's maximum packet size).
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, length + MinimumFree));
            _buffer.AsSpan(_start, length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }

        _start = 0;
        _end = length;
    }

    private void ReturnBuffer()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            _start = _end = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    internal static Exception Translate(SocketException ex) => ex.SocketErrorCode switch
    {
        SocketError.ConnectionReset or SocketError.Shutdown => new ConnectionResetException(ex.Message, ex),
        SocketError.OperationAborted or SocketError.Interrupted or SocketError.NotSocket =>
            new ConnectionAbortedException("the connection was aborted", ex),
        _ => new IOException(ex.Message, ex),
    };
}
