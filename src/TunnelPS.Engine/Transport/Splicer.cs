using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// Copies bytes both ways between two connected streams with pooled buffers until both directions end. An end of
/// stream in one direction half-closes the other side's write direction (TCP FIN or TLS close_notify), so protocols
/// that half-close keep working; an error in either direction closes both. An <see cref="ISpliceObserver"/> (the
/// client's HTTP capture) sees the bytes of each direction after they are written on, and when the local service ends
/// its side (an end of stream, a failed read or write), may give the visitor a last answer first
/// (<see cref="ISpliceObserver.OnLocalEnded"/>: an HTTP tunnel's 502 page for a request the service dropped).
/// </summary>
internal static class Splicer
{
    /// <summary>Buffer size: one TLS record of payload.</summary>
    public const int BufferSize = 16 * 1024;

    /// <summary>The buffer of a transfer whose reads fill the small one: fewer, larger reads and writes for bulk data.</summary>
    public const int BulkBufferSize = 256 * 1024;

    /// <summary>Splices <paramref name="visitor"/> and <paramref name="local"/>; returns the bytes copied each way.</summary>
    public static Task<(long VisitorToLocal, long LocalToVisitor)> RunAsync(
        Stream visitor, Stream local, ISpliceObserver? observer, CancellationToken cancellationToken) =>
        RunAsync(visitor, local, observer, NullLogger.Instance, 0, cancellationToken);

    /// <summary>
    /// Splices <paramref name="visitor"/> and <paramref name="local"/>; returns the bytes copied each way. A failure of
    /// the observer is logged at Debug under <paramref name="connectionId"/> (the bytes go on regardless).
    /// </summary>
    public static async Task<(long VisitorToLocal, long LocalToVisitor)> RunAsync(
        Stream visitor, Stream local, ISpliceObserver? observer, ILogger logger, long connectionId, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var localEnd = observer is null ? null : new LocalEnd();
        var log = new ObserverLog(logger, connectionId);
        var up = CopyAsync(visitor, local, observer, log, toLocal: true, linked.Token, linked, localEnd);
        var down = CopyAsync(local, visitor, observer, log, toLocal: false, linked.Token, linked, localEnd);
        try
        {
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        catch
        {
            // One side failed; the other was cancelled. Both are closed by the caller. When it was the local service's
            // side (a reset), and no bytes of its were cut off on their way, the visitor may still be owed an answer:
            // both directions have ended, so this is the one writer to the visitor now.
            if (localEnd is { Failed: true, VisitorWriteCut: false } && !cancellationToken.IsCancellationRequested)
            {
                await AnswerVisitorAsync(visitor, observer!, log, localEnd, cancellationToken).ConfigureAwait(false);
            }
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
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    log.Failed("closed", ex);
                }
            }
        }
        // Both are done: awaiting one that succeeded takes its count without blocking.
        return (up.IsCompletedSuccessfully ? await up.ConfigureAwait(false) : 0, down.IsCompletedSuccessfully ? await down.ConfigureAwait(false) : 0);
    }

    /// <summary>
    /// One direction alone, the same copy loop as a splice's: copies <paramref name="from"/> to <paramref name="to"/>
    /// until <paramref name="from"/> ends, then ends <paramref name="to"/>'s write direction; returns the bytes copied.
    /// Waits with a zero-byte read and holds no pooled buffer while <paramref name="from"/> is quiet. The observer
    /// sees the bytes as the visitor's (<see cref="ISpliceObserver.OnVisitorData"/>), after they are written on.
    /// </summary>
    public static Task<long> RelayAsync(Stream from, Stream to, ISpliceObserver? observer, ILogger logger, long connectionId, CancellationToken cancellationToken) =>
        CopyAsync(from, to, observer, new ObserverLog(logger, connectionId), toLocal: true, cancellationToken, cancelOnFailure: null, localEnd: null);

    private static async Task<long> CopyAsync(Stream from, Stream to, ISpliceObserver? observer, ObserverLog log, bool toLocal, CancellationToken token, CancellationTokenSource? cancelOnFailure, LocalEnd? localEnd)
    {
        byte[]? buffer = null;
        var size = BufferSize;
        long total = 0;
        // Which stream an exception came from: the local service's reads (local → visitor) and writes (visitor → local).
        var localStep = false;
        try
        {
            while (true)
            {
                localStep = !toLocal;
                // A zero-byte read waits for data without holding a pooled buffer on idle connections (YARP's StreamCopier).
                if (buffer is null)
                {
                    await from.ReadAsync(Memory<byte>.Empty, token).ConfigureAwait(false);
                    buffer = ArrayPool<byte>.Shared.Rent(size);
                }
                var read = await from.ReadAsync(buffer.AsMemory(0, size), token).ConfigureAwait(false);
                if (read == 0)
                {
                    if (!toLocal && localEnd is not null)
                    {
                        await AnswerVisitorAsync(to, observer!, log, localEnd, token).ConfigureAwait(false);
                    }
                    break;
                }
                localStep = toLocal;
                if (localEnd is not null && !toLocal)
                {
                    localEnd.VisitorWriteCut = true;
                }
                await to.WriteAsync(buffer.AsMemory(0, read), token).ConfigureAwait(false);
                if (localEnd is not null && !toLocal)
                {
                    localEnd.VisitorWriteCut = false;
                }
                total += read;
                if (observer is not null)
                {
                    Observe(observer, log, toLocal, buffer.AsSpan(0, read));
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
            if (localEnd is not null && localStep && !token.IsCancellationRequested)
            {
                localEnd.Failed = true;
            }
            if (cancelOnFailure is not null)
            {
                await cancelOnFailure.CancelAsync().ConfigureAwait(false);
            }
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

    private static void Observe(ISpliceObserver observer, ObserverLog log, bool toLocal, ReadOnlySpan<byte> data)
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
        catch (Exception ex)
#pragma warning restore CA1031
        {
            log.Failed(toLocal ? "visitor data" : "local data", ex);
        }
    }

    /// <summary>Sends the visitor the observer's last answer, once, when the local service has ended its side.</summary>
    private static async ValueTask AnswerVisitorAsync(Stream visitor, ISpliceObserver observer, ObserverLog log, LocalEnd localEnd, CancellationToken token)
    {
        if (Interlocked.Exchange(ref localEnd.Answered, 1) != 0)
        {
            return;
        }
        ReadOnlyMemory<byte> answer;
        try
        {
            answer = observer.OnLocalEnded();
        }
#pragma warning disable CA1031 // An observer must never break the tunnel.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            log.Failed("local ended", ex);
            return;
        }
        if (answer.IsEmpty)
        {
            return;
        }
        try
        {
            await visitor.WriteAsync(answer, token).ConfigureAwait(false);
            await visitor.FlushAsync(token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The visitor is gone too: it is owed nothing any more.
            log.AnswerLost(ex);
        }
    }

    /// <summary>Where an observer's failure is logged: the splice's logger and connection id (a struct: no allocation per splice).</summary>
    private readonly struct ObserverLog(ILogger logger, long connectionId)
    {
        public void Failed(string step, Exception ex) => SpliceLog.ObserverFailed(logger, connectionId, step, ex.Message);

        public void AnswerLost(Exception ex) => SpliceLog.VisitorGone(logger, connectionId, ex.Message);
    }

    /// <summary>How the local service's side of one splice ended, shared by its two directions.</summary>
    private sealed class LocalEnd
    {
        /// <summary>1 once the observer was asked for its last answer.</summary>
        public int Answered;

        /// <summary>A read from or a write to the local service failed (a reset), not a cancellation.</summary>
        public volatile bool Failed;

        /// <summary>A write of the local service's bytes to the visitor was under way when the splice ended: no answer may follow.</summary>
        public volatile bool VisitorWriteCut;
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
                case WriteWatchedStream watched:
                    await ShutdownWriteAsync(watched.Inner).ConfigureAwait(false);
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
