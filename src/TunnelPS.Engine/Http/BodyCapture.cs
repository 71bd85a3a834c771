namespace TunnelPS.Engine.Http;

/// <summary>Keeps the first bytes of a body, up to a cap, in pooled chunks (<see cref="PooledBody"/>), and counts them all.</summary>
internal sealed class BodyCapture : IHttpBodySink
{
    private readonly int _cap;
    private readonly long _expected;
    private PooledBody? _body;

    public BodyCapture(int cap, long expectedLength)
    {
        _cap = cap;
        _expected = expectedLength;
    }

    /// <summary>Every body byte seen, captured or not.</summary>
    public long Total { get; private set; }

    public bool Truncated => Total > (_body?.Length ?? 0);

    /// <summary>The bytes kept; null when none were.</summary>
    public PooledBody? Body => _body;

    public void OnBodyData(ReadOnlySpan<byte> data)
    {
        Total += data.Length;
        var room = _cap - (_body?.Length ?? 0);
        if (room <= 0 || data.IsEmpty)
        {
            return;
        }
        _body ??= new PooledBody(_expected, _cap);
        _body.Append(data[..Math.Min(room, data.Length)]);
    }
}
