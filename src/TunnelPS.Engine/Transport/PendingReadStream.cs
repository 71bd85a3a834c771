using System.Runtime.CompilerServices;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// Wraps a stream on which a zero-byte read is already in flight (an idle pooled proxy connection is watched with one,
/// so a connection the peer closed is noticed before a visitor is given it, without holding a buffer). The first read
/// waits for that read to end, then reads as usual.
/// </summary>
internal sealed class PendingReadStream : Stream
{
    private readonly Stream _inner;
    private Action? _onDispose;
    private Task<int>? _pending;

    public PendingReadStream(Stream inner, Task<int> pending, Action? onDispose = null)
    {
        _inner = inner;
        _pending = pending;
        _onDispose = onDispose;
    }

    public Stream Inner => _inner;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => _inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_pending is { } pending)
        {
            // A stream reads one read at a time: the watching read ends before this one starts.
            await pending.WaitAsync(cancellationToken).ConfigureAwait(false);
            _pending = null;
        }
        return await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();
    public override void Write(byte[] buffer, int offset, int count) => _inner.Write(buffer, offset, count);
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _inner.WriteAsync(buffer, cancellationToken);
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _inner.WriteAsync(buffer, offset, count, cancellationToken);
    public override void Flush() => _inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            Interlocked.Exchange(ref _onDispose, null)?.Invoke();
        }
        base.Dispose(disposing);
    }
}
