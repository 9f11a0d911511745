using System.Diagnostics;

namespace Cicada.Bench.Mqtt;

internal sealed partial class MqttBenchClient
{
    // Sends are batched: writers append under _sendLock, one send loop ships whole buffers.
    // Past FlushBytes a writer starts the loop itself; past HighWaterBytes it waits, which is
    // how the socket's back-pressure reaches a QoS 0 publisher.
    private const int FlushBytes = 32 * 1024;
    private const int HighWaterBytes = 256 * 1024;

    private readonly Lock _sendLock = new();
    private byte[] _pending;
    private byte[] _spare;
    private int _pendingLength;
    private bool _sending;
    private TaskCompletionSource? _spaceWaiter;
    private long _lastSendTimestamp = Stopwatch.GetTimestamp();

    // QoS 1/2 publishing: a window of in-flight packet ids (§4.3.2, §4.3.3).
    private SemaphoreSlim? _window;
    private int _windowSize;
    private byte[]? _outState; // per packet id: 0 free, 1 awaiting PUBACK/PUBREC, 2 awaiting PUBCOMP
    private int _nextPacketId;
    private int _inFlight;
    private long _acknowledged;

    /// <summary>QoS 1/2 publishes fully acknowledged (PUBACK, or PUBCOMP for QoS 2).</summary>
    public long Acknowledged => Volatile.Read(ref _acknowledged);

    public int InFlight => Volatile.Read(ref _inFlight);

    internal long LastSendTimestamp => Volatile.Read(ref _lastSendTimestamp);

    /// <summary>Allows up to <paramref name="size"/> unacknowledged QoS 1/2 publishes.</summary>
    public void SetWindow(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, 65_535);
        _windowSize = size;
        _window = new SemaphoreSlim(size, size);
        _outState = new byte[65_536];
    }

    /// <summary>
    /// Appends one PUBLISH. Completes synchronously unless the in-flight window is full or the
    /// send buffer is over its high-water mark. The payload is copied before this returns or
    /// (when it waits) before the returned task completes, so the caller may reuse it after awaiting.
    /// </summary>
    public ValueTask PublishAsync(byte[] topic, int qos, ReadOnlyMemory<byte> payload)
    {
        if (Fault is not null)
        {
            return ValueTask.FromException(FaultedError());
        }

        if (qos == 0)
        {
            AppendPublish(topic, 0, 0, payload.Span);
            return AfterAppend();
        }

        if (_window is null)
        {
            throw new InvalidOperationException("SetWindow must be called before publishing at QoS 1 or 2.");
        }

        return _window.Wait(0) ? PublishAcquired(topic, qos, payload.Span) : PublishSlowAsync(topic, qos, payload);
    }

    private async ValueTask PublishSlowAsync(byte[] topic, int qos, ReadOnlyMemory<byte> payload)
    {
        // The window is full: what is buffered must go out, or the acks we wait for never come.
        Flush();
        try
        {
            await _window!.WaitAsync(_faultCts.Token);
        }
        catch (OperationCanceledException)
        {
            throw FaultedError();
        }

        await PublishAcquired(topic, qos, payload.Span);
    }

    private ValueTask PublishAcquired(byte[] topic, int qos, ReadOnlySpan<byte> payload)
    {
        var state = _outState!;
        var id = _nextPacketId;
        do
        {
            // §2.3.1: ids are 1..65535 and may not be reused while in flight.
            id = id == 65_535 ? 1 : id + 1;
        }
        while (Volatile.Read(ref state[id]) != 0);
        _nextPacketId = id;
        Volatile.Write(ref state[id], 1);
        Interlocked.Increment(ref _inFlight);
        AppendPublish(topic, qos, (ushort)id, payload);
        return AfterAppend();
    }

    private void AppendPublish(byte[] topic, int qos, ushort packetId, ReadOnlySpan<byte> payload)
    {
        lock (_sendLock)
        {
            var span = Reserve(Packets.PublishSize(topic.Length, qos, payload.Length));
            var at = Packets.WritePublishHeader(span, topic, qos, packetId, payload.Length);
            payload.CopyTo(span[at..]);
        }
    }

    private ValueTask AfterAppend()
    {
        var length = Volatile.Read(ref _pendingLength);
        if (length >= FlushBytes)
        {
            Flush();
        }

        return length >= HighWaterBytes ? WaitForSpaceAsync() : ValueTask.CompletedTask;
    }

    private async ValueTask WaitForSpaceAsync()
    {
        Task wait;
        lock (_sendLock)
        {
            if (_pendingLength < HighWaterBytes)
            {
                return;
            }

            if (Fault is not null)
            {
                throw FaultedError();
            }

            _spaceWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _spaceWaiter.Task;
        }

        Flush();
        try
        {
            await wait;
        }
        catch (Exception)
        {
            throw FaultedError();
        }
    }

    /// <summary>Waits until every QoS 1/2 publish sent so far is acknowledged.</summary>
    public async Task WaitForAcknowledgementsAsync(TimeSpan timeout)
    {
        if (_window is null)
        {
            await WaitUntilSentAsync(timeout);
            return;
        }

        Flush();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_faultCts.Token);
        cts.CancelAfter(timeout);
        try
        {
            // Holding every slot of the window means nothing is in flight any more.
            for (var i = 0; i < _windowSize; i++)
            {
                await _window.WaitAsync(cts.Token);
            }
        }
        catch (OperationCanceledException)
        {
            if (Fault is not null)
            {
                throw FaultedError();
            }

            throw new BenchFailureException($"client {ClientId}: {InFlight} publishes still unacknowledged after {timeout.TotalSeconds:0.#} s");
        }

        _window.Release(_windowSize);
    }

    /// <summary>Waits until the send buffer is empty (QoS 0: everything handed to the socket).</summary>
    public async Task WaitUntilSentAsync(TimeSpan timeout)
    {
        Flush();
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            lock (_sendLock)
            {
                if (!_sending && _pendingLength == 0)
                {
                    return;
                }
            }

            if (Fault is not null)
            {
                throw FaultedError();
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new BenchFailureException($"client {ClientId}: send buffer not drained after {timeout.TotalSeconds:0.#} s");
            }

            await Task.Delay(1);
        }
    }

    /// <summary>Starts the send loop unless it runs already or there is nothing to send.</summary>
    public void Flush()
    {
        lock (_sendLock)
        {
            if (_sending || _pendingLength == 0)
            {
                return;
            }

            _sending = true;
        }

        _ = SendLoopAsync();
    }

    internal void SendPing()
    {
        lock (_sendLock)
        {
            var span = Reserve(2);
            span[0] = Packets.PingReq;
            span[1] = 0;
        }

        Flush();
    }

    /// <summary>Room for <paramref name="size"/> bytes at the end of the pending buffer. Caller holds _sendLock.</summary>
    private Span<byte> Reserve(int size)
    {
        if (_pendingLength + size > _pending.Length)
        {
            var grown = new byte[Math.Max(_pending.Length * 2, _pendingLength + size)];
            _pending.AsSpan(0, _pendingLength).CopyTo(grown);
            _pending = grown;
        }

        var span = _pending.AsSpan(_pendingLength, size);
        _pendingLength += size;
        return span;
    }

    private async Task SendLoopAsync()
    {
        try
        {
            while (true)
            {
                byte[] buffer;
                int length;
                TaskCompletionSource? waiter;
                lock (_sendLock)
                {
                    waiter = _spaceWaiter;
                    _spaceWaiter = null;
                    length = _pendingLength;
                    if (length == 0)
                    {
                        _sending = false;
                    }
                    else
                    {
                        // Double buffering: writers fill one buffer while the other is on the wire.
                        buffer = _pending;
                        _pending = _spare;
                        _spare = buffer;
                        _pendingLength = 0;
                    }
                }

                waiter?.TrySetResult();
                if (length == 0)
                {
                    return;
                }

                var sent = 0;
                while (sent < length)
                {
                    sent += await _socket.SendAsync(_spare.AsMemory(sent, length - sent));
                }

                Volatile.Write(ref _lastSendTimestamp, Stopwatch.GetTimestamp());
            }
        }
        catch (Exception e)
        {
            lock (_sendLock)
            {
                _sending = false;
            }

            Fail(e);
        }
    }

    /// <summary>An ack closed a QoS 1 or 2 exchange: free its id and a window slot.</summary>
    private void Complete(ushort packetId, byte expectedState, string packet)
    {
        var state = _outState;
        if (state is null || Volatile.Read(ref state[packetId]) != expectedState)
        {
            throw new MqttViolationException($"{packet} for packet id {packetId}, which is not awaiting one");
        }

        Volatile.Write(ref state[packetId], 0);
        Interlocked.Decrement(ref _inFlight);
        Interlocked.Increment(ref _acknowledged);
        _window!.Release();
    }
}
