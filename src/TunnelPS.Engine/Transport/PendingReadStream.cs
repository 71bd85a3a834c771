using System.Buffers;
using System.Runtime.CompilerServices;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// Wraps a stream on which a read is already in flight (an idle pooled proxy connection is watched with one, so a
/// connection the peer closed is noticed before a visitor is given it). The first read returns that read's bytes.
/// </summary>
internal sealed class PendingReadStream : Stream
{
    private readonly Stream _inner;
    private Action? _onDispose;
    private Task<int>? _pending;
    private byte[]? _buffer;
    private int _offset;
    private int _count;

    public PendingReadStream(Stream inner, Task<int> pending, byte[] pooledBuffer, Action? onDispose = null)
    {
        _inner = inner;
        _onDispose = onDispose;
        _pending = pending;
        _buffer = pooledBuffer;
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
        if (_pending is not null)
        {
            _count = await _pending.WaitAsync(cancellationToken).ConfigureAwait(false);
            _offset = 0;
            _pending = null;
            if (_count == 0)
            {
                ReturnBuffer();
                return 0;
            }
        }
        if (_buffer is not null)
        {
            if (buffer.IsEmpty)
            {
                return 0;
            }
            var n = Math.Min(buffer.Length, _count - _offset);
            _buffer.AsSpan(_offset, n).CopyTo(buffer.Span);
            _offset += n;
            if (_offset == _count)
            {
                ReturnBuffer();
            }
            return n;
        }
        return await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    private void ReturnBuffer()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
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
            if (_pending is null)
            {
                ReturnBuffer();
            }
            // A read still in flight owns the buffer until it ends; the pool simply loses that one array.
        }
        base.Dispose(disposing);
    }
}
