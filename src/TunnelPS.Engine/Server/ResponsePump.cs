using System.Buffers;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// Copies the responses of one connection to the client (or, without a tracker, of a connection relayed to another
/// node) to the visitor. Bytes of a response head are held until the head has arrived and parses; a head that does
/// not parse, or a tunnel that closes while a response is owed and none has begun, answers the visitor with a 502
/// instead. Without a tracker every byte goes on as it comes.
/// <para>
/// The pump owns its <see cref="HttpResponseTracker"/> and its pooled buffer: it disposes and returns them when it
/// ends, as nothing reads them after it; the connection awaits <see cref="Completion"/> before it ends. When the tunnel
/// side ends on its own (not by <see cref="Detach"/>), the visitor connection ends with it.
/// </para>
/// </summary>
internal sealed class ResponsePump
{
    private const int Running = 0;
    private const int Detached = 1;
    private const int Ended = 2;

    private readonly Stream _proxy;
    private readonly VisitorChannel _visitor;
    private readonly string _host;
    private readonly CancellationTokenSource _connection;
    private readonly ILogger _logger;
    private readonly long _connectionId;
    private readonly string _remote;
    private int _state;

    private ResponsePump(Stream proxy, HttpResponseTracker? tracker, VisitorChannel visitor, string host, CancellationTokenSource connection, ILogger logger, long connectionId, string remote)
    {
        _proxy = proxy;
        Tracker = tracker;
        _visitor = visitor;
        _host = host;
        _connection = connection;
        _logger = logger;
        _connectionId = connectionId;
        _remote = remote;
        Completion = Task.CompletedTask;
    }

    /// <summary>The tracker of the responses owed (null for a connection relayed to another node); disposed when the pump ends.</summary>
    public HttpResponseTracker? Tracker { get; }

    /// <summary>The pump's run: it has ended (and released what it owns) once this completes.</summary>
    public Task Completion { get; private set; }

    /// <summary>Starts pumping <paramref name="proxy"/>'s bytes to the visitor; <paramref name="connection"/> is cancelled when the tunnel side ends the connection.</summary>
    public static ResponsePump Start(Stream proxy, HttpResponseTracker? tracker, VisitorChannel visitor, string host, CancellationTokenSource connection, ILogger logger, long connectionId, string remote)
    {
        var pump = new ResponsePump(proxy, tracker, visitor, host, connection, logger, connectionId, remote);
        pump.Completion = pump.RunAsync();
        return pump;
    }

    /// <summary>
    /// The connection lets go of the tunnel side (it closes the proxy stream next): when the pump ends, it leaves the
    /// visitor connection open. False when the pump had already ended on its own.
    /// </summary>
    public bool Detach() => Interlocked.CompareExchange(ref _state, Detached, Running) == Running;

    /// <summary>
    /// The pump's loop. With nothing owed and nothing held it waits for the next response without a buffer (a zero-byte
    /// read), so an idle keep-alive connection costs no pooled buffer on this side.
    /// </summary>
    private async Task RunAsync()
    {
        var token = _connection.Token;
        byte[]? buffer = null;
        var held = 0;
        var lastRead = 0;
        try
        {
            while (true)
            {
                if (buffer is null)
                {
                    await _proxy.ReadAsync(Memory<byte>.Empty, token).ConfigureAwait(false);
                    buffer = ArrayPool<byte>.Shared.Rent(Splicer.BufferSize);
                }
                else
                {
                    buffer = Resized(buffer, held, lastRead);
                }
                var read = await _proxy.ReadAsync(buffer.AsMemory(held), token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                lastRead = held + read;
                var forward = Tracker is null ? read : held + Tracker.Observe(buffer.AsSpan(held, read));
                if (forward > 0)
                {
                    await _visitor.WriteAsync(buffer.AsMemory(0, forward), token).ConfigureAwait(false);
                }
                _visitor.Touch();
                if (Tracker is { Unparsed: true })
                {
                    break;
                }
                held = lastRead - forward;
                if (held > 0 && forward > 0)
                {
                    Buffer.BlockCopy(buffer, forward, buffer, 0, held);
                }
                else if (held == 0 && (Tracker is null ? read < buffer.Length : Tracker.Outstanding == 0))
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = null;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            // Closed by a detach, the expected end (nothing to say); else the reason is logged, and EndAsync ends the visitor's side.
            if (Volatile.Read(ref _state) == Running)
            {
                ServerLog.ConnectionClosed(_logger, _connectionId, _remote, ex.Message);
            }
        }
        finally
        {
            await EndAsync(buffer).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The buffer for the next read: a larger one for a body that fills it (read and written in larger pieces), or room
    /// for a long head held back (the tracker refuses a head above 64 KiB, so this is bounded).
    /// </summary>
    private byte[] Resized(byte[] buffer, int held, int lastRead)
    {
        if (held == 0 && (Tracker is null || Tracker.InBody) && buffer.Length < Splicer.BulkBufferSize && lastRead >= buffer.Length / 2)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return ArrayPool<byte>.Shared.Rent(Splicer.BulkBufferSize);
        }
        if (buffer.Length - held < Splicer.BufferSize / 2)
        {
            var larger = ArrayPool<byte>.Shared.Rent(held + Splicer.BufferSize);
            Buffer.BlockCopy(buffer, 0, larger, 0, held);
            ArrayPool<byte>.Shared.Return(buffer);
            return larger;
        }
        return buffer;
    }

    private async Task EndAsync(byte[]? buffer)
    {
        Tracker?.ConnectionClosed();
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        if (Interlocked.Exchange(ref _state, Ended) == Running)
        {
            // The tunnel side ended (the local service closed, or answered with something that is not HTTP; or the
            // node a relayed connection went to ended it): the visitor connection ends with it, after a 502 when it
            // is owed a response none of which it has.
            if (Tracker is not null)
            {
                await AnswerOwedResponseAsync(Tracker, _connection.Token).ConfigureAwait(false);
            }
            await _connection.CancelAsync().ConfigureAwait(false);
            await _visitor.ShutdownWriteAsync().ConfigureAwait(false);
        }
        // The last reader of the tracker is this pump: its pooled head buffer goes back now, never earlier.
        Tracker?.Dispose();
    }

    private async Task AnswerOwedResponseAsync(HttpResponseTracker tracker, CancellationToken token)
    {
        if (tracker.Outstanding == 0)
        {
            return;
        }
        byte[]? page = null;
        if (tracker.Unparsed && tracker.UnparsedAtHead)
        {
            page = ErrorPages.BadGateway(_host, $"the local service's response is not HTTP ({tracker.UnparsedReason}). Check that the tunnel points at an HTTP service.");
        }
        else if (!tracker.Unparsed && !tracker.InBody)
        {
            // The client answers a request its local service dropped with a page of its own (when it captures the
            // tunnel's traffic); without capture, or when the client itself went, the server can only say this much.
            page = ErrorPages.BadGateway(_host, "the TunnelPS client ended the connection before a response came: the local service closed it without answering, or the client lost its connection. Try again; if it keeps happening, check the local service's log.");
        }
        if (page is null)
        {
            return;
        }
        try
        {
            await _visitor.WriteAsync(page, token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            ServerLog.ConnectionClosed(_logger, _connectionId, _remote, "the visitor could not be told that no response came: " + ex.Message);
        }
    }
}
