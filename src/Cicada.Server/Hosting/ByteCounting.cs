using System.Buffers;
using System.IO.Pipelines;
using Cicada.Core;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Cicada.Server.Hosting;

/// <summary>
/// Counts the bytes of every Kestrel connection into <see cref="CicadaMetrics.BytesReceived"/> /
/// <see cref="CicadaMetrics.BytesSent"/>, tagged with the listener's protocol. A connection
/// middleware added to every endpoint before its own (TLS, connection handler), so the edges need no
/// code of their own and TLS listeners count what crosses the wire. The metric is updated once per
/// read consumed and once per flush, not per packet.
/// </summary>
internal static class ByteCounting
{
    /// <summary>Installs the counter on every listener; <paramref name="protocolOf"/> names a listener by its port.</summary>
    public static void Install(KestrelServerOptions kestrel, Func<int, string> protocolOf) =>
        kestrel.ConfigureEndpointDefaults(listen =>
        {
            var protocol = protocolOf(listen.IPEndPoint?.Port ?? 0);
            listen.Use(next => async connection =>
            {
                var metrics = listen.ApplicationServices.GetRequiredService<CicadaMetrics>();
                var original = connection.Transport;
                connection.Transport = new CountingPipe(original, metrics, protocol);
                try
                {
                    await next(connection);
                }
                finally
                {
                    connection.Transport = original;
                }
            });
        });

    private sealed class CountingPipe(IDuplexPipe inner, CicadaMetrics metrics, string protocol) : IDuplexPipe
    {
        public PipeReader Input { get; } = new CountingReader(inner.Input, metrics, protocol);

        public PipeWriter Output { get; } = new CountingWriter(inner.Output, metrics, protocol);
    }

    private sealed class CountingReader(PipeReader inner, CicadaMetrics metrics, string protocol) : PipeReader
    {
        private ReadOnlySequence<byte> _last;

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            // Data already buffered completes synchronously: no state machine on that path (the hot one).
            var pending = inner.ReadAsync(cancellationToken);
            if (pending.IsCompletedSuccessfully)
            {
                var result = pending.Result;
                _last = result.Buffer;
                return new ValueTask<ReadResult>(result);
            }

            return AwaitAsync(pending);
        }

        private async ValueTask<ReadResult> AwaitAsync(ValueTask<ReadResult> pending)
        {
            var result = await pending;
            _last = result.Buffer;
            return result;
        }

        public override bool TryRead(out ReadResult result)
        {
            if (inner.TryRead(out result))
            {
                _last = result.Buffer;
                return true;
            }

            return false;
        }

        public override void AdvanceTo(SequencePosition consumed)
        {
            Count(consumed);
            inner.AdvanceTo(consumed);
        }

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            Count(consumed);
            inner.AdvanceTo(consumed, examined);
        }

        private void Count(SequencePosition consumed)
        {
            // Only what the reader consumed: a buffer handed back unconsumed comes again next read.
            var bytes = _last.Slice(_last.Start, consumed).Length;
            _last = default;
            if (bytes > 0)
            {
                metrics.AddBytesReceived(bytes, protocol);
            }
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }

    private sealed class CountingWriter(PipeWriter inner, CicadaMetrics metrics, string protocol) : PipeWriter
    {
        private long _unreported;

        public override void Advance(int bytes)
        {
            _unreported += bytes;
            inner.Advance(bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            Report();
            return inner.FlushAsync(cancellationToken);
        }

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            metrics.AddBytesSent(source.Length, protocol);
            return inner.WriteAsync(source, cancellationToken);
        }

        private void Report()
        {
            if (_unreported > 0)
            {
                metrics.AddBytesSent(_unreported, protocol);
                _unreported = 0;
            }
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null)
        {
            Report();
            inner.Complete(exception);
        }

        public override ValueTask CompleteAsync(Exception? exception = null)
        {
            Report();
            return inner.CompleteAsync(exception);
        }
    }
}
