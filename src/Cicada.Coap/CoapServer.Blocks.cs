using System.Net;
using Cicada.Coap.Protocol;

namespace Cicada.Coap;

/// <summary>Block-wise transfers (RFC 7959): Block1 uploads assembled per peer and resource, Block2 downloads sliced.</summary>
public sealed partial class CoapServer
{
    private readonly Dictionary<(IPEndPoint, string), Upload> _uploads = [];
    private readonly Dictionary<(IPEndPoint, string), Download> _downloads = [];

    /// <summary>A Block1 body being received (RFC 7959 §2.5: one per peer and resource).</summary>
    private sealed class Upload(DateTimeOffset touched)
    {
        public readonly MemoryStream Body = new();
        public DateTimeOffset Touched = touched;
    }

    /// <summary>
    /// A body sent block by block: follow-up GETs for later blocks are served from it, so every
    /// block comes from one representation even if the value changes meanwhile (RFC 7959 §2.4).
    /// </summary>
    private sealed record Download(ReadOnlyMemory<byte> Body, byte[] ETag, uint? ContentFormat, DateTimeOffset Touched);

    private int PreferredExponent => BlockOption.ExponentFor(Math.Clamp(_options.BlockSize, 16, 1024));

    /// <summary>
    /// The request body: the payload itself, or, with Block1, the assembled body once the last
    /// block is in. Until then <paramref name="blockResponse"/> is 2.31 Continue (§2.9.1), or an
    /// error: 4.08 for a block out of sequence (§2.9.2), 4.13 with Size1 when too large (§2.9.3, §4).
    /// </summary>
    private ReadOnlyMemory<byte> ReceiveBody(RequestContext context, out CoapMessage? blockResponse)
    {
        var request = context.Request;
        blockResponse = null;
        var max = _options.MaxBodySize;
        if (request.GetUInt(CoapOptionNumber.Size1) > (uint)max || request.Payload.Length > max)
        {
            blockResponse = TooLarge(request);
            return default;
        }

        if (request.GetUInt(CoapOptionNumber.Block1) is not { } value)
        {
            return request.Payload;
        }

        if (!BlockOption.TryDecode(value, out var block))
        {
            blockResponse = Error(request, CoapCode.BadRequest, "Block1 SZX 7 is reserved");
            return default;
        }

        // §2.3: every block but the last carries exactly the block size.
        if (block.More && request.Payload.Length != block.Size)
        {
            blockResponse = Error(request, CoapCode.BadRequest, "Block1 payload is not the block size");
            return default;
        }

        var key = (context.Remote, context.PathString);
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            if (block.Number == 0)
            {
                _uploads[key] = new Upload(now);
            }

            if (!_uploads.TryGetValue(key, out var upload) || upload.Body.Length != block.Offset)
            {
                _uploads.Remove(key);
                blockResponse = Error(request, CoapCode.RequestEntityIncomplete, "Block1 out of sequence");
                return default;
            }

            if (upload.Body.Length + request.Payload.Length > max)
            {
                _uploads.Remove(key);
                blockResponse = TooLarge(request);
                return default;
            }

            upload.Body.Write(request.Payload.Span);
            upload.Touched = now;
            if (block.More)
            {
                // §2.3: the server may ask for smaller blocks by answering with a smaller SZX.
                blockResponse = CoapMessage.ResponseTo(request, CoapCode.Continue);
                blockResponse.AddUInt(CoapOptionNumber.Block1,
                    (block with { SizeExponent = Math.Min(block.SizeExponent, PreferredExponent) }).Encode());
                return default;
            }

            _uploads.Remove(key);
            return upload.Body.GetBuffer().AsMemory(0, (int)upload.Body.Length);
        }
    }

    private CoapMessage TooLarge(CoapMessage request)
    {
        _limiter?.Refused("body-size", "coap", null, $"request body over Coap:MaxBodySize {_options.MaxBodySize} bytes");
        var response = Error(request, CoapCode.RequestEntityTooLarge, "body too large");
        response.AddUInt(CoapOptionNumber.Size1, (uint)_options.MaxBodySize);
        return response;
    }

    /// <summary>
    /// Puts <paramref name="body"/> into <paramref name="response"/>, as one block of a Block2
    /// transfer when it is larger than the block size or the client asked for blocks (§2.4);
    /// the first block tells the whole size in Size2 (§4).
    /// </summary>
    private CoapMessage WithBody(RequestContext context, CoapMessage response, ReadOnlyMemory<byte> body, byte[] etag)
    {
        var request = context.Request;
        var szx = PreferredExponent;
        uint offsetRequested = 0;
        var requested = request.GetUInt(CoapOptionNumber.Block2);
        var asked = requested.HasValue;
        if (requested is { } value)
        {
            if (!BlockOption.TryDecode(value, out var wanted))
            {
                return Error(request, CoapCode.BadRequest, "Block2 SZX 7 is reserved");
            }

            // §2.4: the server may answer with a smaller block; NUM then follows from the offset.
            szx = Math.Min(szx, wanted.SizeExponent);
            offsetRequested = (uint)Math.Min(wanted.Offset, uint.MaxValue);
        }

        var size = 1 << (szx + 4);
        if (!asked && body.Length <= size)
        {
            response.Payload = body;
            return response;
        }

        var number = offsetRequested / (uint)size;
        var offset = (long)number * size;
        if (offset > 0 && offset >= body.Length)
        {
            return Error(request, CoapCode.BadRequest, "Block2 beyond the end");
        }

        var length = (int)Math.Min(size, body.Length - offset);
        var more = offset + length < body.Length;
        response.AddUInt(CoapOptionNumber.Block2, new BlockOption(number, more, szx).Encode());
        if (number == 0 || request.Has(CoapOptionNumber.Size2))
        {
            response.AddUInt(CoapOptionNumber.Size2, (uint)body.Length);
        }

        response.Payload = body.Slice((int)offset, length);
        if (more)
        {
            lock (_lock)
            {
                _downloads[(context.Remote, context.PathString)] =
                    new Download(body, etag, response.GetUInt(CoapOptionNumber.ContentFormat), _time.GetUtcNow());
            }
        }

        return response;
    }

    /// <summary>A GET for a later block of a transfer this peer started: served from the same representation.</summary>
    private CoapMessage? BlockTransferGet(RequestContext context)
    {
        var request = context.Request;
        if (request.GetUInt(CoapOptionNumber.Block2) is not { } value
            || !BlockOption.TryDecode(value, out var block) || block.Number == 0)
        {
            return null;
        }

        Download? download;
        lock (_lock)
        {
            if (!_downloads.TryGetValue((context.Remote, context.PathString), out download))
            {
                return null;
            }

            _downloads[(context.Remote, context.PathString)] = download with { Touched = _time.GetUtcNow() };
        }

        var response = CoapMessage.ResponseTo(request, CoapCode.Content);
        response.Add(CoapOptionNumber.ETag, download.ETag);
        if (download.ContentFormat is { } cf)
        {
            response.AddUInt(CoapOptionNumber.ContentFormat, cf);
        }

        return WithBody(context, response, download.Body, download.ETag);
    }

    /// <summary>Block state older than EXCHANGE_LIFETIME is abandoned (RFC 7959 §2.5 lets a server drop it).</summary>
    private void ExpireTransfersLocked(DateTimeOffset now)
    {
        var limit = now - CoapTransmission.ExchangeLifetime;
        if (_uploads.Count > 0)
        {
            foreach (var key in _uploads.Where(u => u.Value.Touched < limit).Select(u => u.Key).ToList())
            {
                _uploads.Remove(key);
            }
        }

        if (_downloads.Count > 0)
        {
            foreach (var key in _downloads.Where(d => d.Value.Touched < limit).Select(d => d.Key).ToList())
            {
                _downloads.Remove(key);
            }
        }
    }
}
