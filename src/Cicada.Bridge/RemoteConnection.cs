using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Cicada.Bridge;

/// <summary>
/// The transport to the remote broker: TCP, optionally TLS, as a pair of pipes. Writers take
/// <see cref="WriteLock"/>: the drain (PUBLISH), the read loop (acknowledgements) and the keep-alive
/// (PINGREQ) share one output.
/// </summary>
internal sealed class RemoteConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly TimeProvider _time;
    private long _lastSentTicks;
    private long _lastReceivedTicks;

    private RemoteConnection(Socket socket, Stream stream, TimeProvider time)
    {
        _socket = socket;
        _stream = stream;
        _time = time;
        // The pipes leave the stream to DisposeAsync, which closes it once, after both are complete.
        Input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        Output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        RemoteEndPoint = socket.RemoteEndPoint;
        MarkSent();
        MarkReceived();
    }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    public SemaphoreSlim WriteLock { get; } = new(1, 1);

    public EndPoint? RemoteEndPoint { get; }

    public TimeSpan SinceLastSent => _time.GetElapsedTime(Volatile.Read(ref _lastSentTicks));

    public TimeSpan SinceLastReceived => _time.GetElapsedTime(Volatile.Read(ref _lastReceivedTicks));

    public void MarkSent() => Volatile.Write(ref _lastSentTicks, _time.GetTimestamp());

    public void MarkReceived() => Volatile.Write(ref _lastReceivedTicks, _time.GetTimestamp());

    /// <summary>Opens TCP (every address the host resolves to, in turn) and, when configured, TLS.</summary>
    public static async Task<RemoteConnection> OpenAsync(BridgeSettings settings, TimeProvider time, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            await socket.ConnectAsync(settings.Host, settings.Port, cancellationToken);
            stream = new NetworkStream(socket, ownsSocket: false);
            if (settings.Tls)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                await tls.AuthenticateAsClientAsync(TlsOptions(settings), cancellationToken);
            }

            return new RemoteConnection(socket, stream, time);
        }
        catch
        {
            if (stream is not null)
            {
                await stream.DisposeAsync();
            }

            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The remote's certificate must name the host and chain to <see cref="BridgeSettings.CaFile"/>
    /// (read at every connection, so a renewed CA needs no restart) or to the system's roots —
    /// unless <see cref="BridgeSettings.TlsInsecureSkipVerify"/> says to trust anything.
    /// </summary>
    private static SslClientAuthenticationOptions TlsOptions(BridgeSettings settings)
    {
        var options = new SslClientAuthenticationOptions { TargetHost = settings.Host };
        if (settings.TlsInsecureSkipVerify)
        {
            options.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        }
        else if (settings.CaFile is { } caFile)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(caFile);
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            policy.CustomTrustStore.AddRange(roots);
            options.CertificateChainPolicy = policy;
        }

        return options;
    }

    /// <summary>Writes one packet and flushes, under the write lock.</summary>
    public async ValueTask SendAsync<TState>(Action<PipeWriter, TState> write, TState state, CancellationToken cancellationToken)
    {
        await WriteLock.WaitAsync(cancellationToken);
        try
        {
            write(Output, state);
            MarkSent();
            await Output.FlushAsync(cancellationToken);
        }
        finally
        {
            WriteLock.Release();
        }
    }

    /// <summary>Ends the connection: the read loop sees the end, a writer fails.</summary>
    public void Abort()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The socket first, so a writer blocked in a flush fails at once and lets go of the lock;
        // then the output is completed under the lock, never while a writer is in it.
        Abort();
        var locked = await WriteLock.WaitAsync(TimeSpan.FromSeconds(5));
        try
        {
            await Input.CompleteAsync();
            await Output.CompleteAsync();
            await _stream.DisposeAsync();
            _socket.Dispose();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // Output that can no longer be flushed, a TLS close_notify that can no longer be sent.
        }
        finally
        {
            if (locked)
            {
                WriteLock.Release();
            }
        }
    }
}
