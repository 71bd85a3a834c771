using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// Copies bytes both ways between two connected streams with pooled buffers until both directions end. An end of
/// stream in one direction half-closes the other side's write direction (TCP FIN or TLS close_notify), so protocols
/// that half-close keep working; an error in either direction closes both. An <see cref="ISpliceObserver"/> (the
/// client's HTTP capture) sees the bytes of each direction after they are written on.
/// </summary>
internal static class Splicer
{
    /// <summary>Buffer size: one TLS record of payload.</summary>
    public const int BufferSize = 16 * 1024;

    /// <summary>The buffer of a transfer whose reads fill the small one: fewer, larger reads and writes for bulk data.</summary>
    public const int BulkBufferSize = 256 * 1024;

    /// <summary>Splices <paramref name="visitor"/> and <paramref name="local"/>; returns the bytes copied each way.</summary>
    public static async Task<(long VisitorToLocal, long LocalToVisitor)> RunAsync(
        Stream visitor, Stream local, ISpliceObserver? observer, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var up = CopyAsync(visitor, local, observer, toLocal: true, linked);
        var down = CopyAsync(local, visitor, observer, toLocal: false, linked);
        try
        {
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        catch
        {
            // One side failed; the other was cancelled. Both are closed by the caller.
        }
        finally
        {
            if (observer is not null)
            {
                try
                {
                    observer.OnClosed();
                }
#pragma warning disable CA1031 // An observer must never break the tunnel.
                catch (Exception)
#pragma warning restore CA1031
                {
                }
            }
        }
        return (up.IsCompletedSuccessfully ? up.Result : 0, down.IsCompletedSuccessfully ? down.Result : 0);
    }

    private static async Task<long> CopyAsync(Stream from, Stream to, ISpliceObserver? observer, bool toLocal, CancellationTokenSource both)
    {
        var token = both.Token;
        byte[]? buffer = null;
        var size = BufferSize;
        long total = 0;
        try
        {
            while (true)
            {
                // A zero-byte read waits for data without holding a pooled buffer on idle connections (YARP's StreamCopier).
                if (buffer is null)
                {
                    await from.ReadAsync(Memory<byte>.Empty, token).ConfigureAwait(false);
                    buffer = ArrayPool<byte>.Shared.Rent(size);
                }
                var read = await from.ReadAsync(buffer.AsMemory(0, size), token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                await to.WriteAsync(buffer.AsMemory(0, read), token).ConfigureAwait(false);
                total += read;
                if (observer is not null)
                {
                    Observe(observer, toLocal, buffer.AsSpan(0, read));
                }
                if (read < size)
                {
                    // The peer had no more queued: give the buffer back and wait for the next bytes with a zero-byte
                    // read, so an idle connection holds no buffer. Bulk transfers (full reads) keep theirs.
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = null;
                    size = BufferSize;
                }
                else if (size < BulkBufferSize)
                {
                    // A full read: more is queued. Move to the larger buffer for the rest of the transfer.
                    ArrayPool<byte>.Shared.Return(buffer);
                    size = BulkBufferSize;
                    buffer = ArrayPool<byte>.Shared.Rent(size);
                }
            }
            await ShutdownWriteAsync(to).ConfigureAwait(false);
            return total;
        }
        catch
        {
            await both.CancelAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private static void Observe(ISpliceObserver observer, bool toLocal, ReadOnlySpan<byte> data)
    {
        try
        {
            if (toLocal)
            {
                observer.OnVisitorData(data);
            }
            else
            {
                observer.OnLocalData(data);
            }
        }
#pragma warning disable CA1031 // An observer must never break the tunnel.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>Ends the write direction of a stream: TLS close_notify or a TCP FIN; the read direction stays open.</summary>
    public static async ValueTask ShutdownWriteAsync(Stream stream)
    {
        try
        {
            switch (stream)
            {
                case SslStream ssl:
                    await ssl.ShutdownAsync().ConfigureAwait(false);
                    break;
                case NetworkStream network:
                    network.Socket.Shutdown(SocketShutdown.Send);
                    break;
                case PrefixedStream prefixed:
                    await ShutdownWriteAsync(prefixed.Inner).ConfigureAwait(false);
                    break;
                case PendingReadStream pending:
                    await ShutdownWriteAsync(pending.Inner).ConfigureAwait(false);
                    break;
                case MuxStream mux:
                    mux.ShutdownWrite();
                    break;
                default:
                    break;
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException or NotSupportedException)
        {
            // The peer is already gone; nothing to shut down.
        }
    }
}
