using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Cicada.Bench.Mqtt;

/// <summary>Receives the application messages a subscriber gets; called on the client's receive loop.</summary>
internal interface IPublishSink
{
    void OnPublish(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, long receivedTimestamp);
}

/// <summary>
/// A minimal MQTT 3.1.1 client over a raw socket, built so that the load generator is never
/// the bottleneck: one receive loop, writes appended to a buffer and sent in batches by at most
/// one send loop, QoS 1/2 publishing through a bounded window of in-flight packet ids.
/// Anything unexpected (refused CONNACK, closed socket, protocol violation) faults the client;
/// the scenario checks <see cref="Fault"/> and fails loudly.
/// </summary>
internal sealed partial class MqttBenchClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly IPublishSink? _sink;
    private readonly TaskCompletionSource<long> _connAck = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _faultCts = new();
    private TaskCompletionSource? _subAck;
    private int _requestedQos;
    private Exception? _fault;
    private volatile bool _closing;

    private MqttBenchClient(Socket socket, string clientId, IPublishSink? sink, int receiveBufferSize)
    {
        _socket = socket;
        ClientId = clientId;
        _sink = sink;
        _receiveBuffer = new byte[receiveBufferSize];
        _pending = new byte[Math.Min(receiveBufferSize, 4096)];
        _spare = new byte[_pending.Length];
    }

    public string ClientId { get; }

    /// <summary>Why the connection died, or null while it is healthy.</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    /// <summary>Stopwatch ticks from the start of the TCP connect to the CONNACK.</summary>
    public long ConnectTicks { get; private set; }

    /// <summary>Opens TCP, sends CONNECT (clean session unless told otherwise) and waits for an accepting CONNACK.</summary>
    public static async Task<MqttBenchClient> ConnectAsync(
        EndPoint endPoint,
        string clientId,
        ushort keepAliveSeconds,
        IPublishSink? sink,
        int receiveBufferSize,
        TimeSpan timeout,
        CancellationToken cancellationToken,
        bool cleanSession = true)
    {
        var started = Stopwatch.GetTimestamp();
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout);
        MqttBenchClient? client = null;
        try
        {
            await socket.ConnectAsync(endPoint, timeoutCts.Token);
            client = new MqttBenchClient(socket, clientId, sink, receiveBufferSize);
            _ = client.ReceiveLoopAsync();
            var id = Encoding.UTF8.GetBytes(clientId);
            lock (client._sendLock)
            {
                Packets.WriteConnect(client.Reserve(Packets.ConnectSize(id)), id, keepAliveSeconds, cleanSession);
            }

            client.Flush();
            var acked = await client._connAck.Task.WaitAsync(timeoutCts.Token);
            client.ConnectTicks = acked - started;
            KeepAlivePinger.Register(client, keepAliveSeconds);
            return client;
        }
        catch (Exception e)
        {
            socket.Dispose();
            var reason = e is OperationCanceledException && !cancellationToken.IsCancellationRequested
                ? new TimeoutException($"no CONNACK within {timeout.TotalSeconds:0.#} s")
                : e;
            throw new BenchFailureException($"client {clientId} could not connect to {endPoint}: {reason.Message}", reason);
        }
    }

    /// <summary>Subscribes to one filter and fails unless the broker grants it (§3.9.3: 0x80 is failure).</summary>
    public async Task SubscribeAsync(string filter, int qos, TimeSpan timeout)
    {
        var bytes = Encoding.UTF8.GetBytes(filter);
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _requestedQos = qos;
        Volatile.Write(ref _subAck, waiter);
        lock (_sendLock)
        {
            Packets.WriteSubscribe(Reserve(Packets.SubscribeSize(bytes)), 1, bytes, qos);
        }

        Flush();
        try
        {
            await waiter.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new BenchFailureException($"client {ClientId}: no SUBACK for '{filter}' within {timeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>Sends DISCONNECT and waits (briefly) for the broker to close, so TIME_WAIT lands on its side.</summary>
    public async Task DisconnectAsync(TimeSpan timeout)
    {
        if (_closing)
        {
            return;
        }

        _closing = true;
        KeepAlivePinger.Unregister(this);
        if (Fault is null)
        {
            lock (_sendLock)
            {
                var span = Reserve(2);
                span[0] = Packets.Disconnect;
                span[1] = 0;
            }

            Flush();
            // MQTT-3.14.4-1: the server closes the connection after DISCONNECT.
            await Task.WhenAny(_closed.Task, Task.Delay(timeout));
        }

        Close();
    }

    public async ValueTask DisposeAsync()
    {
        await DisconnectAsync(TimeSpan.FromSeconds(2));
        _faultCts.Dispose();
    }

    private void Close()
    {
        _closing = true;
        KeepAlivePinger.Unregister(this);
        try
        {
            // Wakes a publisher waiting on the window of a connection that is going away.
            _faultCts.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        try
        {
            _socket.Dispose();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Marks the connection dead and wakes every waiter so that nothing hangs on it.</summary>
    private void Fail(Exception reason)
    {
        if (_closing && reason is not MqttViolationException)
        {
            _closed.TrySetResult();
            return;
        }

        if (Interlocked.CompareExchange(ref _fault, reason, null) is not null)
        {
            return;
        }

        _connAck.TrySetException(reason);
        Volatile.Read(ref _subAck)?.TrySetException(reason);
        TaskCompletionSource? spaceWaiter;
        lock (_sendLock)
        {
            spaceWaiter = _spaceWaiter;
            _spaceWaiter = null;
        }

        spaceWaiter?.TrySetException(reason);
        try
        {
            _faultCts.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        _closed.TrySetResult();
        Close();
    }

    private BenchFailureException FaultedError() =>
        new($"client {ClientId} lost its connection: {Fault?.Message}", Fault);
}
