using System.Buffers;

namespace TunnelPS.Engine.Http;

/// <summary>The shape of <see cref="HttpHeadScanner.TryScanRequest"/> and <see cref="HttpHeadScanner.TryScanResponse"/>.</summary>
internal delegate bool HeadScanner(ReadOnlySpan<byte> data, out ScannedHead head, out int headLength);

/// <summary>The bytes of a head that arrived split across reads, in a pooled buffer (at most 64 KiB + 1).</summary>
internal sealed class PartialHead : IDisposable
{
    private byte[]? _buffer;

    public int Count { get; private set; }

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, Count);

    public void Append(ReadOnlySpan<byte> data)
    {
        var needed = Count + data.Length;
        if (_buffer is null || _buffer.Length < needed)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, 2048));
            if (_buffer is not null)
            {
                _buffer.AsSpan(0, Count).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_buffer);
            }
            _buffer = bigger;
        }
        data.CopyTo(_buffer.AsSpan(Count));
        Count = needed;
    }

    public void Reset() => Count = 0;

    /// <summary>
    /// Scans a head from the bytes held so far plus <paramref name="data"/>. On success <paramref name="data"/> is
    /// advanced past the head's bytes (the body or next message follows) and <paramref name="headBytes"/> holds the
    /// head, valid until the next call on this object; otherwise the bytes are kept (up to one byte past the head
    /// limit, so the scanner reports an oversized head) and <paramref name="data"/> is consumed.
    /// </summary>
    /// <exception cref="HttpParseException">The bytes are not a valid head.</exception>
    public bool TryTake(ref ReadOnlySpan<byte> data, HeadScanner scan, out ScannedHead head, out ReadOnlySpan<byte> headBytes)
    {
        int headLength;
        if (Count == 0)
        {
            if (scan(data, out head, out headLength))
            {
                headBytes = data[..headLength];
                data = data[headLength..];
                return true;
            }
            Append(data[..Math.Min(data.Length, HttpHeadParser.MaxHeadLength + 1)]);
            data = default;
            headBytes = default;
            return false;
        }
        var previous = Count;
        Append(data[..Math.Min(data.Length, HttpHeadParser.MaxHeadLength + 1 - previous)]);
        if (!scan(Span, out head, out headLength))
        {
            data = default;
            headBytes = default;
            return false;
        }
        Reset();
        headBytes = _buffer.AsSpan(0, headLength);
        data = data[(headLength - previous)..];
        return true;
    }

    public void Dispose()
    {
        Count = 0;
        var buffer = _buffer;
        _buffer = null;
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
