using System.Buffers;

namespace TunnelPS.Engine.Inspection;

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
