using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Cicada.Fuzz.Tests.Http;

/// <summary>One HTTP/1.1 response as it came off the wire (RFC 9112 §2.1).</summary>
public sealed record RawHttpResponse(int Status, IReadOnlyList<(string Name, string Value)> Headers, byte[] Body)
{
    public string? Header(string name) =>
        Headers.FirstOrDefault(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)).Value;

    public string ContentType => Header("Content-Type") ?? string.Empty;

    /// <summary>The server ends the connection after this response (RFC 9112 §9.6).</summary>
    public bool Closes => Header("Connection")?.Contains("close", StringComparison.OrdinalIgnoreCase) == true;

    public string BodyText => Encoding.UTF8.GetString(Body);
}

/// <summary>
/// A raw HTTP/1.1 client over one loopback socket (reconnecting when the server closes it): it
/// sends requests byte for byte as built — invalid UTF-8, odd header values, any target — which
/// HttpClient would refuse to send, and reads responses framed by Content-Length or chunked coding
/// (RFC 9112 §6.3, §7.1).
/// </summary>
public sealed class RawHttpClient(int port) : IAsyncDisposable
{
    private static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(10);

    private TcpClient? _client;
    private Stream? _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    /// <summary>
    /// Sends one request and reads its response. With <paramref name="headOnly"/> (an event stream or
    /// a WebSocket upgrade: a body that never ends) only the status and headers are read, and the
    /// connection is closed afterwards.
    /// </summary>
    public async Task<RawHttpResponse> SendAsync(byte[] request, bool headOnly = false, bool isHead = false)
    {
        using var timeout = new CancellationTokenSource(ResponseTimeout);
        try
        {
            var stream = await ConnectedAsync(timeout.Token);
            await stream.WriteAsync(request, timeout.Token);
            var (status, headers) = await ReadHeadAsync(timeout.Token);
            var response = new RawHttpResponse(status, headers, []);
            if (headOnly && status is 200 or 101)
            {
                Close();
                return response;
            }

            // RFC 9112 §6.3 rule 1: the answer to HEAD has no body, whatever its Content-Length says.
            var body = isHead ? [] : await ReadBodyAsync(response, timeout.Token);
            response = response with { Body = body };
            if (response.Closes || headOnly)
            {
                Close();
            }

            return response;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            Close();
            throw new TimeoutException($"no complete response within {ResponseTimeout.TotalSeconds} s");
        }
        catch (IOException)
        {
            Close();
            throw;
        }
    }

    private async Task<Stream> ConnectedAsync(CancellationToken cancellationToken)
    {
        if (_stream is not null)
        {
            return _stream;
        }

        _client = new TcpClient { NoDelay = true };
        await _client.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
        _stream = _client.GetStream();
        _start = _end = 0;
        return _stream;
    }

    private void Close()
    {
        _stream?.Dispose();
        _client?.Dispose();
        _stream = null;
        _client = null;
        _start = _end = 0;
    }

    private async Task<(int Status, List<(string, string)> Headers)> ReadHeadAsync(CancellationToken cancellationToken)
    {
        var statusLine = await ReadLineAsync(cancellationToken);
        var parts = statusLine.Split(' ', 3);
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || !int.TryParse(parts[1], out var status))
        {
            throw new InvalidDataException($"not an HTTP/1.1 status line: '{statusLine}'");
        }

        var headers = new List<(string, string)>();
        while (true)
        {
            var line = await ReadLineAsync(cancellationToken);
            if (line.Length == 0)
            {
                return (status, headers);
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw new InvalidDataException($"not a header field: '{line}'");
            }

            headers.Add((line[..colon], line[(colon + 1)..].Trim()));
        }
    }

    private async Task<byte[]> ReadBodyAsync(RawHttpResponse head, CancellationToken cancellationToken)
    {
        // RFC 9112 §6.3: 1xx, 204 and 304 have no body.
        if (head.Status is < 200 or 204 or 304)
        {
            return [];
        }

        if (head.Header("Transfer-Encoding")?.Contains("chunked", StringComparison.OrdinalIgnoreCase) == true)
        {
            using var body = new MemoryStream();
            while (true)
            {
                var sizeLine = await ReadLineAsync(cancellationToken);
                var size = Convert.ToInt32(sizeLine.Split(';')[0].Trim(), 16);
                if (size == 0)
                {
                    while ((await ReadLineAsync(cancellationToken)).Length > 0)
                    {
                        // trailer fields
                    }

                    return body.ToArray();
                }

                body.Write(await ReadExactlyAsync(size, cancellationToken));
                await ReadLineAsync(cancellationToken);
            }
        }

        if (head.Header("Content-Length") is { } length)
        {
            return await ReadExactlyAsync(int.Parse(length, System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        }

        // Neither: the body runs to the end of the connection (RFC 9112 §6.3 rule 8).
        using var rest = new MemoryStream();
        rest.Write(_buffer, _start, _end - _start);
        _start = _end;
        await _stream!.CopyToAsync(rest, cancellationToken);
        Close();
        return rest.ToArray();
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                var line = Encoding.Latin1.GetString(_buffer, _start, newline - _start).TrimEnd('\r');
                _start = newline + 1;
                return line;
            }

            await FillAsync(cancellationToken);
        }
    }

    private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        var result = new byte[count];
        var copied = 0;
        while (copied < count)
        {
            if (_start == _end)
            {
                await FillAsync(cancellationToken);
            }

            var take = Math.Min(count - copied, _end - _start);
            Buffer.BlockCopy(_buffer, _start, result, copied, take);
            _start += take;
            copied += take;
        }

        return result;
    }

    private async Task FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            throw new InvalidDataException("response line longer than the read buffer");
        }

        var read = await _stream!.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        if (read == 0)
        {
            throw new IOException("the server closed the connection before a complete response");
        }

        _end += read;
    }

    public ValueTask DisposeAsync()
    {
        Close();
        return ValueTask.CompletedTask;
    }
}
