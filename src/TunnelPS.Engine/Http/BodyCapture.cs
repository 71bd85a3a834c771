namespace TunnelPS.Engine.Http;

/// <summary>Keeps the first <c>cap</c> bytes of a body and counts the rest. The array is owned (it outlives the tap).</summary>
internal sealed class BodyCapture : IHttpBodySink
{
    private readonly int _cap;
    private readonly long _expected;
    private byte[]? _buffer;
    private int _length;

    public BodyCapture(int cap, long expectedLength)
    {
        _cap = cap;
        _expected = expectedLength;
    }

    /// <summary>Every body byte seen, captured or not.</summary>
    public long Total { get; private set; }

    public bool Truncated => Total > _length;

    public ReadOnlyMemory<byte> Memory => _buffer is null ? ReadOnlyMemory<byte>.Empty : _buffer.AsMemory(0, _length);

    public void OnBodyData(ReadOnlySpan<byte> data)
    {
        Total += data.Length;
        var room = _cap - _length;
        if (room <= 0 || data.IsEmpty)
        {
            return;
        }
        var take = Math.Min(room, data.Length);
        EnsureCapacity(_length + take);
        data[..take].CopyTo(_buffer.AsSpan(_length));
        _length += take;
    }

    private void EnsureCapacity(int needed)
    {
        if (_buffer is not null && _buffer.Length >= needed)
        {
            return;
        }
        int size;
        if (_buffer is null && _expected > 0)
        {
            size = (int)Math.Min(_expected, _cap);
        }
        else
        {
            size = Math.Max(_buffer?.Length * 2 ?? 4096, 4096);
        }
        size = Math.Min(Math.Max(size, needed), _cap);
        var bigger = new byte[size];
        if (_buffer is not null)
        {
            _buffer.AsSpan(0, _length).CopyTo(bigger);
        }
        _buffer = bigger;
    }
}
