using System.Globalization;
using System.Text;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// A buffered HTTP/1.1 connection end, for both the soak's visitors and its local services: reads a head, a line, a
/// body by its framing (Content-Length, chunked, or to the end), and raw bytes, all through one buffer. Deliberately
/// independent of the engine's parser, so a bug there cannot hide itself here.
/// </summary>
internal sealed class HttpWire
{
    /// <summary>The longest head either side accepts (the server's limit too).</summary>
    public const int MaxHead = 64 * 1024;

    private byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;

    public HttpWire(Stream stream) => Stream = stream;

    public Stream Stream { get; }

    /// <summary>Bytes already read from the stream and not consumed yet.</summary>
    public int Buffered => _end - _start;

    /// <summary>The next head (up to its empty line), or null at a clean end of stream before its first byte.</summary>
    public async Task<HttpHead?> ReadHeadAsync(CancellationToken token)
    {
        while (true)
        {
            var at = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
            if (at >= 0)
            {
                var text = Encoding.Latin1.GetString(_buffer, _start, at);
                _start += at + 4;
                return HttpHead.Parse(text);
            }
            if (_end - _start >= MaxHead)
            {
                throw new InvalidDataException("head longer than 64 KiB");
            }
            if (!await FillAsync(token))
            {
                return _end == _start ? null : throw new EndOfStreamException("closed inside a head");
            }
        }
    }

    /// <summary>Reads and discards a body framed as <paramref name="head"/> says; returns its length.</summary>
    public async Task<long> SkipBodyAsync(HttpHead head, bool isResponse, CancellationToken token)
    {
        if (isResponse && (head.Status is >= 100 and < 200 or 204 or 304))
        {
            return 0;
        }
        if (head.IsChunked)
        {
            return await SkipChunkedAsync(token);
        }
        if (head.ContentLength is { } length)
        {
            var skipped = await SkipAsync(length, token);
            return skipped == length ? length : throw new EndOfStreamException(string.Create(CultureInfo.InvariantCulture, $"body cut at {skipped} of {length} bytes"));
        }
        return isResponse ? await SkipAsync(long.MaxValue, token) : 0;
    }

    /// <summary>Reads a body framed as <paramref name="head"/> says into a string (small bodies only).</summary>
    public async Task<string> ReadSmallBodyAsync(HttpHead head, CancellationToken token)
    {
        var length = head.ContentLength ?? 0;
        if (head.IsChunked || length > 4096)
        {
            await SkipBodyAsync(head, isResponse: true, token);
            return "";
        }
        var bytes = new byte[length];
        var got = 0;
        while (got < length)
        {
            var n = await ReadAsync(bytes.AsMemory(got), token);
            if (n == 0)
            {
                throw new EndOfStreamException("closed inside a body");
            }
            got += n;
        }
        return Encoding.Latin1.GetString(bytes);
    }

    /// <summary>Reads buffered bytes first, then from the stream.</summary>
    public async ValueTask<int> ReadAsync(Memory<byte> into, CancellationToken token)
    {
        if (_end > _start)
        {
            var n = Math.Min(into.Length, _end - _start);
            _buffer.AsMemory(_start, n).CopyTo(into);
            _start += n;
            return n;
        }
        return await Stream.ReadAsync(into, token);
    }

    /// <summary>Discards up to <paramref name="count"/> bytes (long.MaxValue: to the end of the stream); returns how many.</summary>
    public async Task<long> SkipAsync(long count, CancellationToken token)
    {
        long skipped = 0;
        while (skipped < count)
        {
            if (_end == _start && !await FillAsync(token))
            {
                break;
            }
            var n = (int)Math.Min(count - skipped, _end - _start);
            _start += n;
            skipped += n;
        }
        return skipped;
    }

    private async Task<long> SkipChunkedAsync(CancellationToken token)
    {
        long total = 0;
        while (true)
        {
            var line = await ReadLineAsync(token) ?? throw new EndOfStreamException("closed inside a chunked body");
            var semicolon = line.IndexOf(';', StringComparison.Ordinal);
            var sizeText = (semicolon >= 0 ? line[..semicolon] : line).Trim();
            if (!long.TryParse(sizeText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size < 0)
            {
                throw new InvalidDataException("bad chunk size '" + line + "'");
            }
            if (size == 0)
            {
                while (!string.IsNullOrEmpty(await ReadLineAsync(token)))
                {
                    // Trailer fields.
                }
                return total;
            }
            if (await SkipAsync(size, token) != size)
            {
                throw new EndOfStreamException("closed inside a chunk");
            }
            total += size;
            if (await ReadLineAsync(token) != "")
            {
                throw new InvalidDataException("chunk not followed by CRLF");
            }
        }
    }

    /// <summary>One line without its CRLF, or null at the end of the stream.</summary>
    public async Task<string?> ReadLineAsync(CancellationToken token)
    {
        while (true)
        {
            var at = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
            if (at >= 0)
            {
                var line = Encoding.Latin1.GetString(_buffer, _start, at);
                _start += at + 2;
                return line;
            }
            if (_end - _start > 4096)
            {
                throw new InvalidDataException("line longer than 4 KiB");
            }
            if (!await FillAsync(token))
            {
                return null;
            }
        }
    }

    private async Task<bool> FillAsync(CancellationToken token)
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            else
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
        }
        var n = await Stream.ReadAsync(_buffer.AsMemory(_end), token);
        _end += n;
        return n > 0;
    }
}
