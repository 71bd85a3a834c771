namespace TunnelPS.Engine.Transport;

/// <summary>
/// A stream whose write in progress is timed: <see cref="WriteStarted"/> is the <see cref="TimeProvider"/> timestamp
/// at which the pending write began (0 while none is pending), so that a deadline can close a peer that stopped
/// reading (a TCP tunnel's visitor, as an HTTP visitor's write-progress deadline does). Everything else passes through.
/// </summary>
internal sealed class WriteWatchedStream(Stream inner, TimeProvider time) : Stream
{
    private long _writeStarted;

    public Stream Inner => inner;

    /// <summary>When the pending write began (a TimeProvider timestamp); 0 while no write is pending.</summary>
    public long WriteStarted => Interlocked.Read(ref _writeStarted);

    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => false;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => inner.Read(buffer);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(buffer, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Interlocked.Exchange(ref _writeStarted, time.GetTimestamp());
        try
        {
            inner.Write(buffer);
        }
        finally
        {
            Interlocked.Exchange(ref _writeStarted, 0);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Interlocked.Exchange(ref _writeStarted, time.GetTimestamp());
        try
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Exchange(ref _writeStarted, 0);
        }
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

    public override ValueTask DisposeAsync() => inner.DisposeAsync();
}
