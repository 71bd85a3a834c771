using System.Buffers;
using System.Net.Sockets;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// One HTTP/1.1 connection to the inspector: reads each request head with <see cref="HttpHeadParser"/> (at most
/// <see cref="InspectorOptions.MaxHeadSize"/>) and its body with <see cref="HttpBodyFramer"/> (at most
/// <see cref="InspectorOptions.MaxBodySize"/>), checks who is asking (<see cref="InspectorAccess"/>), answers, and
/// keeps the connection alive until the client closes it, or turns it into a live event stream. Its deadlines (idle,
/// request, write) are checked by the inspector's one <see cref="DeadlineMonitor"/>, which closes the socket.
/// </summary>
internal sealed class InspectorConnection : IDeadlineWatched
{
    private static readonly byte[] Continue = "HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray();

    private readonly InspectorServer _server;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private long _deadline = long.MaxValue;
    private string _deadlineKind = string.Empty;
    private int _timedOut;

    public InspectorConnection(InspectorServer server, Socket socket, long id)
    {
        _server = server;
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        Id = id;
    }

    public long Id { get; }

    private InspectorOptions Options => _server.Options;

    public void CheckDeadlines(long now)
    {
        if (now >= Volatile.Read(ref _deadline) && Interlocked.Exchange(ref _timedOut, 1) == 0)
        {
            InspectorLog.DeadlinePassed(_server.Logger, Id, _deadlineKind);
            Close();
        }
    }

    /// <summary>Closes the socket: a pending read or write fails, and <see cref="RunAsync"/> ends.</summary>
    public void Close() => _socket.Dispose();

    public async Task RunAsync(CancellationToken stopping)
    {
        _server.Deadlines.Add(this);
        // The owner of the peer's socket, read while it is surely open (the client's end is established before accept).
        var peer = _server.IdentifyPeer(_socket);
        var buffer = ArrayPool<byte>.Shared.Rent(Options.MaxHeadSize);
        var reason = "closed by the client";
        try
        {
            var count = 0;
            while (!stopping.IsCancellationRequested)
            {
                // Between requests the idle deadline runs; from a request's first byte, the request deadline.
                SetDeadline(count == 0 ? Options.IdleTimeout : Options.RequestTimeout, count == 0 ? "idle" : "request");
                HttpRequestHead? head = null;
                var headLength = 0;
                while (true)
                {
                    if (count > 0)
                    {
                        try
                        {
                            if (HttpHeadParser.TryParseRequestHead(buffer.AsSpan(0, count), out head, out headLength))
                            {
                                break;
                            }
                        }
                        catch (HttpParseException ex)
                        {
                            reason = "malformed request: " + ex.Message;
                            await RefuseAsync(ex.StatusCode, ex.StatusCode == 431 ? "The request head is too large." : "The request is not valid HTTP/1.1: " + ex.Message, stopping).ConfigureAwait(false);
                            return;
                        }
                    }
                    if (count == Options.MaxHeadSize)
                    {
                        reason = "request head too large";
                        await RefuseAsync(431, $"The request head is larger than {Options.MaxHeadSize / 1024} KiB.", stopping).ConfigureAwait(false);
                        return;
                    }
                    var read = await _stream.ReadAsync(buffer.AsMemory(count, Options.MaxHeadSize - count), stopping).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return;
                    }
                    if (count == 0)
                    {
                        SetDeadline(Options.RequestTimeout, "request");
                    }
                    count += read;
                }

                HttpBodyFramer framer;
                try
                {
                    framer = HttpBodyFramer.ForRequest(head);
                }
                catch (HttpParseException ex)
                {
                    reason = "malformed framing: " + ex.Message;
                    await RefuseAsync(400, "The request is not valid HTTP/1.1: " + ex.Message, stopping).ConfigureAwait(false);
                    return;
                }
                if (framer.ContentLength > Options.MaxBodySize)
                {
                    reason = "request body too large";
                    await RefuseAsync(413, $"The request body is larger than {Options.MaxBodySize / (1024 * 1024)} MiB.", stopping).ConfigureAwait(false);
                    return;
                }
                var body = new BodyCapture(Options.MaxBodySize, framer.ContentLength);
                var offset = headLength;
                if (!framer.IsComplete && offset == count && head.ExpectsContinue)
                {
                    await _stream.WriteAsync(Continue, stopping).ConfigureAwait(false);
                }
                while (!framer.IsComplete)
                {
                    if (offset < count)
                    {
                        try
                        {
                            offset += framer.Advance(buffer.AsSpan(offset, count - offset), body, out _);
                        }
                        catch (HttpParseException ex)
                        {
                            reason = "malformed body: " + ex.Message;
                            await RefuseAsync(400, "The request body is not valid HTTP/1.1 framing: " + ex.Message, stopping).ConfigureAwait(false);
                            return;
                        }
                        if (body.Truncated)
                        {
                            reason = "request body too large";
                            await RefuseAsync(413, $"The request body is larger than {Options.MaxBodySize / (1024 * 1024)} MiB.", stopping).ConfigureAwait(false);
                            return;
                        }
                        continue;
                    }
                    offset = count = 0;
                    var read = await _stream.ReadAsync(buffer.AsMemory(0, Options.MaxHeadSize), stopping).ConfigureAwait(false);
                    if (read == 0)
                    {
                        reason = "closed in the middle of a request";
                        return;
                    }
                    count = read;
                }
                // A pipelined next request stays at the start of the buffer.
                buffer.AsSpan(offset, count - offset).CopyTo(buffer);
                count -= offset;
                SetDeadline(Timeout.InfiniteTimeSpan, string.Empty);

                // The body's pooled chunks go back as soon as the request has its own copy.
                var pooled = body.Body;
                var request = new InspectorRequest(head, pooled is null ? ReadOnlyMemory<byte>.Empty : pooled.ToArray(), Id, peer);
                pooled?.Release();
                var response = await _server.HandleAsync(request, stopping).ConfigureAwait(false);
                var keepAlive = head.KeepAlive && !response.Close;
                SetDeadline(Options.WriteTimeout, "write");
                await _stream.WriteAsync(response.Serialize(keepAlive, headOnly: head.Method == "HEAD"), stopping).ConfigureAwait(false);
                if (response.IsEventStream && response.Status == 200 && head.Method == "GET")
                {
                    reason = await new InspectorEventStream(_server, this, _stream).RunAsync(stopping).ConfigureAwait(false);
                    return;
                }
                if (!keepAlive)
                {
                    reason = "answered with Connection: close";
                    return;
                }
            }
            reason = "the inspector stopped";
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            reason = Volatile.Read(ref _timedOut) == 1 ? $"the {_deadlineKind} deadline passed" : ex.Message;
        }
        finally
        {
            _server.Deadlines.Remove(this);
            ArrayPool<byte>.Shared.Return(buffer);
            await _stream.DisposeAsync().ConfigureAwait(false);
            InspectorLog.ConnectionEnded(_server.Logger, Id, reason);
        }
    }

    /// <summary>Arms the deadline of the current phase (infinite: none).</summary>
    internal void SetDeadline(TimeSpan timeout, string kind)
    {
        _deadlineKind = kind;
        Volatile.Write(ref _deadline, timeout == Timeout.InfiniteTimeSpan
            ? long.MaxValue
            : _server.Options.TimeProvider.GetTimestamp() + (long)(timeout.TotalSeconds * _server.Options.TimeProvider.TimestampFrequency));
    }

    /// <summary>Answers a request that cannot be read with an error and Connection: close.</summary>
    private async Task RefuseAsync(int status, string message, CancellationToken stopping)
    {
        SetDeadline(Options.WriteTimeout, "write");
        await _stream.WriteAsync(InspectorResponse.Error(status, message).Serialize(keepAlive: false, headOnly: false), stopping).ConfigureAwait(false);
    }
}
