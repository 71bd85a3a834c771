namespace TunnelPS.Engine.Transport;

/// <summary>What a server handshake holds while it computes, given back while it waits for its peer.</summary>
internal interface IHandshakeTurn
{
    /// <summary>The handshake now waits for its peer's bytes: its turn goes to another.</summary>
    void Pause();

    /// <summary>The peer's bytes arrived: the handshake takes a turn again before it computes.</summary>
    ValueTask ResumeAsync(CancellationToken token);
}

/// <summary>
/// The stream under a server's TLS stream on the tunnel port: it first replays the ClientHello that was read off the
/// socket (<see cref="ClientHelloReader"/>), then reads and writes the socket stream. While a handshake runs, a read
/// that follows the server's own write (its flight is out, it waits for the client) gives back the handshake's turn
/// and takes one again when the client's bytes arrive: a turn is held only while the server computes, never while a
/// slow or stalled client keeps it waiting.
/// </summary>
internal sealed class HandshakeTransport(Stream inner, ReadOnlyMemory<byte> hello, IHandshakeTurn? turn) : Stream
{
    private ReadOnlyMemory<byte> _hello = hello;
    private IHandshakeTurn? _turn = turn;
    private bool _wrote;

    public Stream Inner => inner;

    /// <summary>The handshake is over (or failed): reads and writes pass straight through from now on.</summary>
    public void EndHandshake() => _turn = null;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer) => !_hello.IsEmpty ? TakeHello(buffer) : inner.Read(buffer);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_hello.IsEmpty)
        {
            return new ValueTask<int>(TakeHello(buffer.Span));
        }
        var turn = _turn;
        // SslStream waits for data with a zero-byte read before it takes a buffer: that wait gives the turn back too.
        if (turn is null || !_wrote)
        {
            return inner.ReadAsync(buffer, cancellationToken);
        }
        return ReadWaitingAsync(turn, buffer, cancellationToken);
    }

    private async ValueTask<int> ReadWaitingAsync(IHandshakeTurn turn, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        _wrote = false;
        turn.Pause();
        var n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        await turn.ResumeAsync(cancellationToken).ConfigureAwait(false);
        return n;
    }

    private int TakeHello(Span<byte> buffer)
    {
        var n = Math.Min(buffer.Length, _hello.Length);
        _hello.Span[..n].CopyTo(buffer);
        _hello = _hello[n..];
        return n;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _wrote = true;
        inner.Write(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _wrote = true;
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
