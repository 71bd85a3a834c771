using System.Buffers;

namespace TunnelPS.Engine.Http;

/// <summary>
/// A captured body held in chunks rented from <see cref="ArrayPool{T}.Shared"/>: growing it never copies what it holds,
/// no chunk reaches the large object heap, and <see cref="Release"/> gives the chunks back, so the memory of evicted or
/// cleared captures is reused instead of lingering.
/// <para>
/// One thread appends while the body is being captured, before anyone else can see it. Afterwards readers copy it out
/// (<see cref="ToArray"/>, <see cref="CopyTo"/>) and the store releases it; those take a lock, so a reader never sees a
/// chunk that went back to the pool. A released body reads as empty (<see cref="IsReleased"/>).
/// </para>
/// </summary>
internal sealed class PooledBody
{
    /// <summary>The size of every chunk after the first: 64 KiB, below the large object heap's threshold.</summary>
    internal const int ChunkSize = 64 * 1024;

    private const int FirstChunkMinimum = 4 * 1024;

    private readonly object _gate = new();
    private readonly List<byte[]> _chunks = [];
    private readonly int _firstChunk;
    private int _length;
    private int _lastUsed;
    private long _retained;
    private bool _released;

    /// <param name="expectedLength">The body's length when known (Content-Length), else -1: sizes the first chunk.</param>
    /// <param name="limit">The most bytes that will be appended.</param>
    public PooledBody(long expectedLength, int limit)
    {
        long first = expectedLength > 0 ? expectedLength : FirstChunkMinimum;
        _firstChunk = (int)Math.Clamp(Math.Min(first, Math.Max(limit, 1)), 1, ChunkSize);
    }

    /// <summary>The bytes held.</summary>
    public int Length => Volatile.Read(ref _length);

    /// <summary>The bytes of the chunks rented for it (what it costs in memory), 0 once released.</summary>
    public long RetainedBytes => Volatile.Read(ref _retained);

    /// <summary>True once <see cref="Release"/> gave the chunks back.</summary>
    public bool IsReleased
    {
        get
        {
            lock (_gate)
            {
                return _released;
            }
        }
    }

    /// <summary>Appends bytes (the capturing thread only, before the body is shared).</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_chunks.Count == 0 || _lastUsed == _chunks[^1].Length)
            {
                var chunk = ArrayPool<byte>.Shared.Rent(_chunks.Count == 0 ? _firstChunk : ChunkSize);
                _chunks.Add(chunk);
                _lastUsed = 0;
                Volatile.Write(ref _retained, _retained + chunk.Length);
            }
            var last = _chunks[^1];
            var take = Math.Min(data.Length, last.Length - _lastUsed);
            data[..take].CopyTo(last.AsSpan(_lastUsed));
            _lastUsed += take;
            Volatile.Write(ref _length, _length + take);
            data = data[take..];
        }
    }

    /// <summary>A copy of the bytes; empty once released.</summary>
    public byte[] ToArray()
    {
        lock (_gate)
        {
            if (_released || _length == 0)
            {
                return [];
            }
            var copy = new byte[_length];
            CopyToLocked(copy);
            return copy;
        }
    }

    /// <summary>Copies the bytes into <paramref name="destination"/> (at least <see cref="Length"/> long); returns how many were copied (0 once released).</summary>
    public int CopyTo(Span<byte> destination)
    {
        lock (_gate)
        {
            if (_released)
            {
                return 0;
            }
            CopyToLocked(destination);
            return _length;
        }
    }

    /// <summary>Gives the chunks back to the pool; the body reads as empty afterwards. Safe to call more than once.</summary>
    public void Release()
    {
        byte[][] chunks;
        lock (_gate)
        {
            if (_released)
            {
                return;
            }
            _released = true;
            chunks = [.. _chunks];
            _chunks.Clear();
            Volatile.Write(ref _retained, 0);
        }
        foreach (var chunk in chunks)
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    private void CopyToLocked(Span<byte> destination)
    {
        var left = _length;
        var offset = 0;
        foreach (var chunk in _chunks)
        {
            var take = Math.Min(left, chunk.Length);
            chunk.AsSpan(0, take).CopyTo(destination[offset..]);
            offset += take;
            left -= take;
            if (left == 0)
            {
                break;
            }
        }
    }
}
