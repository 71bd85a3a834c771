using Nerdbank.Streams;

namespace TunnelPS.Bench.MuxCompare;

/// <summary>
/// A channel as a <see cref="Stream"/> (the package's own <c>AsStream()</c> over the channel's pipes), closed the way a
/// visitor connection is closed: disposing it disposes the channel (one ChannelTerminated frame, as MuxLink sends one
/// Reset). A write after the channel ended throws, as it does on the other variants' streams.
/// </summary>
internal sealed class NerdbankChannelStream : Stream
{
    private readonly MultiplexingStream.Channel _channel;
    private readonly Stream _inner;

    public NerdbankChannelStream(MultiplexingStream.Channel channel)
    {
        _channel = channel;
        _inner = channel.AsStream();
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _inner.ReadAsync(buffer, cancellationToken);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_channel.Completion.IsCompleted)
        {
            throw new IOException("The channel has ended.");
        }
        return _inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override void Flush() => _inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // The channel owns the pipes under _inner: disposing it ends both, with one frame to the peer.
            _channel.Dispose();
        }
        base.Dispose(disposing);
    }

}
