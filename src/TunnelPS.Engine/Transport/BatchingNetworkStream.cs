using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// The socket stream under a TLS connection between TunnelPS peers. It is a plain <see cref="NetworkStream"/> until a
/// <see cref="MuxLink"/> takes the connection over and calls <see cref="EnableBatching"/>; from then on it reads ahead
/// and coalesces writes, because TLS works record by record and a record holds at most 16 KiB:
/// <list type="bullet">
/// <item>A read that finds nothing buffered receives up to <see cref="ReadAheadSize"/> bytes in one call and hands
/// them out from memory, so the TLS layer takes many records per receive instead of one (a bulk transfer made about
/// 120,000 receives per GiB on the server before, a few thousand after).</item>
/// <item>Writes are copied into one buffer and leave in a single send at <see cref="FlushAsync(CancellationToken)"/>
/// (the link flushes at the end of each batch of frames) or when the buffer fills: the records of a batch cost one
/// send, and one wake-up of the peer, instead of one each.</item>
/// </list>
/// A connection that never becomes a link (a control connection, a pooled proxy connection, an HTTPS visitor) holds no
/// extra buffer and behaves exactly as a NetworkStream.
/// </summary>
internal sealed class BatchingNetworkStream : NetworkStream
{
    /// <summary>The most bytes one receive takes while batching.</summary>
    public const int ReadAheadSize = 128 * 1024;

    /// <summary>Buffered write bytes beyond which a write sends at once rather than waiting for the flush.</summary>
    public const int CoalesceSize = 128 * 1024;

    // Writes are the link's writer's, but TLS may also answer a peer's post-handshake message from inside a read:
    // one writer at a time, uncontended in practice.
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private volatile bool _batching;
    private byte[]? _readBuffer;
    private int _readStart;
    private int _readEnd;
    private byte[]? _writeBuffer;
    private int _written;

    public BatchingNetworkStream(Socket socket)
        : base(socket, ownsSocket: true)
    {
    }

    /// <summary>True once <see cref="EnableBatching"/> was called.</summary>
    public bool IsBatching => _batching;

    /// <summary>Starts reading ahead and coalescing writes; every write must be followed by a flush from then on.</summary>
    public void EnableBatching() => _batching = true;

    /// <summary>The batching stream at the bottom of <paramref name="stream"/>'s wrappers, or null.</summary>
    public static BatchingNetworkStream? Find(Stream stream) => stream switch
    {
        BatchingNetworkStream batching => batching,
        PeerSslStream ssl => Find(ssl.Transport),
        PrefixedStream prefixed => Find(prefixed.Inner),
        HandshakeTransport handshake => Find(handshake.Inner),
        PendingReadStream pending => Find(pending.Inner),
        _ => null,
    };

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_readEnd > _readStart)
        {
            // A zero-byte read (TLS waits for data with one before it takes a buffer) finds data here at once.
            return new ValueTask<int>(buffer.IsEmpty ? 0 : TakeBuffered(buffer.Span));
        }
        if (!_batching || buffer.IsEmpty)
        {
            return base.ReadAsync(buffer, cancellationToken);
        }
        return buffer.Length >= ReadAheadSize ? base.ReadAsync(buffer, cancellationToken) : FillAndTakeAsync(buffer, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> FillAndTakeAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        // One buffer per link for the link's life: links are few and long-lived.
        _readBuffer ??= new byte[ReadAheadSize];
        var received = await base.ReadAsync(_readBuffer, cancellationToken).ConfigureAwait(false);
        if (received == 0)
        {
            return 0;
        }
        _readStart = 0;
        _readEnd = received;
        return TakeBuffered(buffer.Span);
    }

    private int TakeBuffered(Span<byte> destination)
    {
        var n = Math.Min(destination.Length, _readEnd - _readStart);
        _readBuffer.AsSpan(_readStart, n).CopyTo(destination);
        _readStart += n;
        return n;
    }

    // The synchronous members: TLS uses the asynchronous ones (only they read ahead, and only they coalesce); these
    // keep a caller of either kind correct, in order. Each span member goes through the array member of NetworkStream
    // (the span members of Stream would call back into ours). Once a link owns the connection they refuse to run on
    // the socket event thread: a blocking socket call or a wait for the write gate there stalls every socket.
    public override int Read(byte[] buffer, int offset, int count)
    {
        ThrowIfBlockingOnEventThread(nameof(Read));
        if (_readEnd > _readStart)
        {
            return count == 0 ? 0 : TakeBuffered(buffer.AsSpan(offset, count));
        }
        return base.Read(buffer, offset, count);
    }

    public override int Read(Span<byte> buffer)
    {
        ThrowIfBlockingOnEventThread(nameof(Read));
        if (_readEnd > _readStart)
        {
            return buffer.IsEmpty ? 0 : TakeBuffered(buffer);
        }
        var array = ArrayPool<byte>.Shared.Rent(Math.Max(1, buffer.Length));
        try
        {
            var n = base.Read(array, 0, buffer.Length);
            array.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _batching ? BufferedWriteAsync(buffer, cancellationToken) : base.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var array = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            buffer.CopyTo(array);
            Write(array, 0, buffer.Length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        if (!_batching)
        {
            base.Write(buffer, offset, count);
            return;
        }
        // A synchronous write does not coalesce: what is held leaves first, then this, in order.
        ThrowIfBlockingOnEventThread(nameof(Write));
        _writeGate.Wait();
        try
        {
            SendBuffered();
            base.Write(buffer, offset, count);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask BufferedWriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_written + buffer.Length > CoalesceSize)
            {
                await SendBufferedAsync(cancellationToken).ConfigureAwait(false);
                if (buffer.Length >= CoalesceSize)
                {
                    await base.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
                    return;
                }
            }
            Append(buffer.Span);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        _writeBuffer ??= new byte[CoalesceSize];
        data.CopyTo(_writeBuffer.AsSpan(_written));
        _written += data.Length;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendBufferedAsync(CancellationToken cancellationToken)
    {
        if (_written == 0)
        {
            return;
        }
        var count = _written;
        _written = 0;
        await base.WriteAsync(_writeBuffer.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
    }

    private void SendBuffered()
    {
        if (_written == 0)
        {
            return;
        }
        var count = _written;
        _written = 0;
        base.Write(_writeBuffer!, 0, count);
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (!_batching || Volatile.Read(ref _written) == 0)
        {
            return;
        }
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await SendBufferedAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public override void Flush()
    {
        if (!_batching)
        {
            return;
        }
        ThrowIfBlockingOnEventThread(nameof(Flush));
        _writeGate.Wait();
        try
        {
            SendBuffered();
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private void ThrowIfBlockingOnEventThread(string member)
    {
        if (_batching)
        {
            InlineCompletions.ThrowIfOnEventThread("BatchingNetworkStream." + member);
        }
    }
}
