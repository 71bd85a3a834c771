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
    private byte[] _buffer = [];
    private int _count;
    private string _reason = "closed by the client";

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
        _buffer = ArrayPool<byte>.Shared.Rent(Options.MaxHeadSize);
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                if (await ReadHeadAsync(stopping).ConfigureAwait(false) is not (var head, var headLength)
                    || await ReadBodyAsync(head, headLength, stopping).ConfigureAwait(false) is not { } body
                    || !await AnswerAsync(head, body, peer, stopping).ConfigureAwait(false))
                {
                    return;
                }
            }
            _reason = "the inspector stopped";
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            _reason = Volatile.Read(ref _timedOut) == 1 ? $"the {_deadlineKind} deadline passed" : ex.Message;
        }
        finally
        {
            _server.Deadlines.Remove(this);
            ArrayPool<byte>.Shared.Return(_buffer);
            await _stream.DisposeAsync().ConfigureAwait(false);
            InspectorLog.ConnectionEnded(_server.Logger, Id, _reason);
        }
    }

    /// <summary>Reads the next request head; null when the connection ends (closed by the client, or refused).</summary>
    private async Task<(HttpRequestHead Head, int Length)?> ReadHeadAsync(CancellationToken stopping)
    {
        // Between requests the idle deadline runs; from a request's first byte, the request deadline.
        SetDeadline(_count == 0 ? Options.IdleTimeout : Options.RequestTimeout, _count == 0 ? "idle" : "request");
        while (true)
        {
            if (_count > 0)
            {
                try
                {
                    if (HttpHeadParser.TryParseRequestHead(_buffer.AsSpan(0, _count), out var head, out var headLength))
                    {
                        return (head, headLength);
                    }
                }
                catch (HttpParseException ex)
                {
                    await RefuseAsync("malformed request: " + ex.Message, ex.StatusCode, ex.StatusCode == 431 ? "The request head is too large." : "The request is not valid HTTP/1.1: " + ex.Message, stopping).ConfigureAwait(false);
                    return null;
                }
            }
            if (_count == Options.MaxHeadSize)
            {
                await RefuseAsync("request head too large", 431, $"The request head is larger than {Options.MaxHeadSize / 1024} KiB.", stopping).ConfigureAwait(false);
                return null;
            }
            var read = await _stream.ReadAsync(_buffer.AsMemory(_count, Options.MaxHeadSize - _count), stopping).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }
            if (_count == 0)
            {
                SetDeadline(Options.RequestTimeout, "request");
            }
            _count += read;
        }
    }

    /// <summary>
    /// Reads the body of <paramref name="head"/> (at most <see cref="InspectorOptions.MaxBodySize"/>) and keeps a
    /// pipelined next request at the start of the buffer; null when the connection ends (refused, or closed mid-request).
    /// </summary>
    private async Task<BodyCapture?> ReadBodyAsync(HttpRequestHead head, int headLength, CancellationToken stopping)
    {
        HttpBodyFramer framer;
        try
        {
            framer = HttpBodyFramer.ForRequest(head);
        }
        catch (HttpParseException ex)
        {
            await RefuseAsync("malformed framing: " + ex.Message, 400, "The request is not valid HTTP/1.1: " + ex.Message, stopping).ConfigureAwait(false);
            return null;
        }
        if (framer.ContentLength > Options.MaxBodySize)
        {
            await RefuseAsync("request body too large", 413, BodyTooLarge, stopping).ConfigureAwait(false);
            return null;
        }
        var body = new BodyCapture(Options.MaxBodySize, framer.ContentLength);
        var offset = headLength;
        if (!framer.IsComplete && offset == _count && head.ExpectsContinue)
        {
            await _stream.WriteAsync(Continue, stopping).ConfigureAwait(false);
        }
        while (!framer.IsComplete)
        {
            if (offset < _count)
            {
                try
                {
                    offset += framer.Advance(_buffer.AsSpan(offset, _count - offset), body, out _);
                }
                catch (HttpParseException ex)
                {
                    await RefuseAsync("malformed body: " + ex.Message, 400, "The request body is not valid HTTP/1.1 framing: " + ex.Message, stopping).ConfigureAwait(false);
                    return null;
                }
                if (body.Truncated)
                {
                    await RefuseAsync("request body too large", 413, BodyTooLarge, stopping).ConfigureAwait(false);
                    return null;
                }
                continue;
            }
            offset = _count = 0;
            var read = await _stream.ReadAsync(_buffer.AsMemory(0, Options.MaxHeadSize), stopping).ConfigureAwait(false);
            if (read == 0)
            {
                _reason = "closed in the middle of a request";
                return null;
            }
            _count = read;
        }
        _buffer.AsSpan(offset, _count - offset).CopyTo(_buffer);
        _count -= offset;
        return body;
    }

    private string BodyTooLarge => $"The request body is larger than {Options.MaxBodySize / (1024 * 1024)} MiB.";

    /// <summary>Answers one request; false when the connection ends with it (Connection: close, or an event stream that ended).</summary>
    private async Task<bool> AnswerAsync(HttpRequestHead head, BodyCapture body, InspectorPeer peer, CancellationToken stopping)
    {
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
            _reason = await new InspectorEventStream(_server, this, _stream).RunAsync(stopping).ConfigureAwait(false);
            return false;
        }
        if (!keepAlive)
        {
            _reason = "answered with Connection: close";
            return false;
        }
        return true;
    }

    /// <summary>Arms the deadline of the current phase (infinite: none).</summary>
    internal void SetDeadline(TimeSpan timeout, string kind)
    {
        _deadlineKind = kind;
        Volatile.Write(ref _deadline, timeout == Timeout.InfiniteTimeSpan
            ? long.MaxValue
            : _server.Options.TimeProvider.GetTimestamp() + (long)(timeout.TotalSeconds * _server.Options.TimeProvider.TimestampFrequency));
    }

    /// <summary>Answers a request that cannot be read with an error and Connection: close; <paramref name="reason"/> is logged.</summary>
    private async Task RefuseAsync(string reason, int status, string message, CancellationToken stopping)
    {
        _reason = reason;
        SetDeadline(Options.WriteTimeout, "write");
        await _stream.WriteAsync(InspectorResponse.Error(status, message).Serialize(keepAlive: false, headOnly: false), stopping).ConfigureAwait(false);
    }
}
