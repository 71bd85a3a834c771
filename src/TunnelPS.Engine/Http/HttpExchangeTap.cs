namespace TunnelPS.Engine.Http;

/// <summary>
/// Records every HTTP/1.x request/response pair crossing one tunnelled connection and hands each, complete, to an
/// <see cref="IHttpExchangeSink"/>.
/// <para>
/// It scans the bytes it is handed in place for their framing (<see cref="HttpHeadScanner"/>), keeps each head as the
/// bytes that crossed (the sink parses them if anyone asks), and copies bodies only up to the body limit; it never
/// holds the stream back. Keep-alive and pipelined requests, Content-Length, chunked (the de-chunked body is kept),
/// until-close bodies, HEAD/204/304, 100-continue and Upgrade (the handshake is recorded with its 101, then bytes pass
/// unparsed) are handled. Bytes that are not HTTP are recorded once as an unparsed exchange, after which the tap only
/// passes. No method throws.
/// </para>
/// <para>
/// The two directions call in from two threads, and each direction's state is its own (<see cref="RequestSide"/>,
/// <see cref="ResponseSide"/>): a request is handed to the response side through a lock-free queue, and each half of an
/// exchange is marked done atomically. A thread holds its own side for the length of a call, uncontended. It touches
/// the other side only in three rare cases, and then only if that side is free at that moment (else the side's own
/// thread finishes the work when its call ends): to match response bytes that arrived before the request they answer
/// (each direction reports after writing, so a response can be reported first; those bytes are held, copied, at most
/// 1 MiB), to flush the other side when parsing stops, and on close. The one wait is the response thread's, for the
/// request thread to finish matching response bytes on its behalf.
/// </para>
/// </summary>
internal sealed partial class HttpExchangeTap : IDisposable
{
    /// <summary>The most response bytes held while waiting for the request they answer.</summary>
    internal const int MaxEarlyResponseBytes = 1024 * 1024;

    /// <summary>How many bytes of unparsable traffic are kept as a sample.</summary>
    internal const int UnparsedSampleSize = 64 * 1024;

    private const string ClosedEarly = "The connection closed before the exchange was complete.";
    private const string SwitchedProtocols = "The connection switched protocols before the exchange was complete.";

    private readonly IHttpExchangeSink _sink;
    private readonly TimeProvider _time;
    private readonly int _cap;
    private readonly RequestSide _requests;
    private readonly ResponseSide _responses;

    // Requests handed to the response side, oldest first: a linked queue with one producer (the request side, which
    // alone moves the tail) and one consumer (the response side, which alone moves the head: the last exchange taken,
    // or the first node).
    private TappedExchange _queueTail;
    private TappedExchange _queueHead;

    /// <summary>Non-null once parsing stopped (upgrade, unparsable bytes, failure): the error for what was pending.</summary>
    private volatile string? _stopReason;
    private int _closed;

    /// <param name="sink">Receives each complete exchange.</param>
    /// <param name="bodyLimit">The most bytes of each body kept; the rest is counted only.</param>
    /// <param name="timeProvider">The clock for timestamps and durations.</param>
    public HttpExchangeTap(IHttpExchangeSink sink, int bodyLimit, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentOutOfRangeException.ThrowIfNegative(bodyLimit);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _sink = sink;
        _cap = bodyLimit;
        _time = timeProvider;
        _requests = new RequestSide(this);
        _responses = new ResponseSide(this);
        _queueHead = _queueTail = new TappedExchange();
    }

    /// <summary>True once the tap stopped parsing (upgrade, unparsable bytes, or close) and only passes bytes.</summary>
    public bool IsPassThrough => _stopReason is not null || Volatile.Read(ref _closed) != 0;

    private bool Stopped => _stopReason is not null;

    /// <summary>Bytes that went from the visitor to the local service. Call from one thread at a time.</summary>
    public void OnVisitorData(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty || IsPassThrough)
        {
            return;
        }
        // Held elsewhere only while the response side or the close flushes it: parsing has stopped.
        if (!_requests.TryEnter())
        {
            return;
        }
        try
        {
            if (!Stopped)
            {
                _requests.Read(data);
            }
        }
        finally
        {
            _requests.Exit();
        }
        Settle();
    }

    /// <summary>Bytes that went from the local service to the visitor. Call from one thread at a time.</summary>
    public void OnLocalData(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty || IsPassThrough)
        {
            return;
        }
        // Held elsewhere while the request thread matches held response bytes (bounded work) or parsing stops.
        if (!_responses.EnterUnlessStopped())
        {
            return;
        }
        try
        {
            if (!Stopped)
            {
                _responses.Read(data);
            }
        }
        finally
        {
            _responses.Exit();
        }
        Settle();
    }

    /// <summary>
    /// The local service ended the connection and the client answers in its place: when a request waits for a response
    /// none of which has crossed, records <paramref name="response"/> (a complete response) as its response, with
    /// <paramref name="reason"/> as its Error, and returns true; the caller sends it to the visitor. Otherwise (nothing
    /// owed, a response under way, parsing stopped) records nothing and returns false. Call from the local → visitor
    /// direction, after its last <see cref="OnLocalData"/>.
    /// </summary>
    public bool AnswerInPlaceOfLocal(ReadOnlySpan<byte> response, string reason)
    {
        if (IsPassThrough || !_responses.EnterUnlessStopped())
        {
            return false;
        }
        TappedExchange? owed = null;
        try
        {
            if (!Stopped && _responses.AwaitsHead && PeekAwaited() is { } exchange)
            {
                owed = exchange;
                // Set first: the close that follows marks the request's unfinished half with an error of its own.
                owed.SetError(reason);
            }
        }
        finally
        {
            _responses.Exit();
        }
        Settle();
        if (owed is null)
        {
            return false;
        }
        OnLocalData(response);
        return true;
    }

    /// <summary>The connection ended: completes an until-close body, records what is pending. Idempotent.</summary>
    public void OnClosed()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        // Both directions have ended when the splice closes; the waits cover a call still under way.
        _requests.EnterWaiting();
        _responses.EnterWaiting();
        try
        {
            if (_stopReason is { } reason)
            {
                _requests.Flush(reason);
                _responses.Flush(reason);
            }
            else
            {
                _responses.OnConnectionClosed();
                _requests.OnConnectionClosed();
                _requests.Flush(ClosedEarly);
                _responses.Flush(ClosedEarly);
            }
        }
#pragma warning disable CA1031 // A tap must never break the tunnel.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        finally
        {
            _requests.ReleaseBuffers();
            _responses.ReleaseBuffers();
            _responses.Exit();
            _requests.Exit();
        }
    }

    public void Dispose() => OnClosed();

    /// <summary>
    /// Runs after a thread lets go of its side: finishes what the other thread left to it while it held the side (a
    /// flush after parsing stopped, response bytes to match with a request that has arrived).
    /// </summary>
    private void Settle()
    {
        try
        {
            while (true)
            {
                if (Stopped)
                {
                    FlushFreeSides();
                    return;
                }
                if (!_responses.HoldingEarly || !ResponsesAwaited() || !_responses.TryEnter())
                {
                    return;
                }
                try
                {
                    _responses.MatchEarly();
                }
                finally
                {
                    _responses.Exit();
                }
            }
        }
#pragma warning disable CA1031 // A tap must never break the tunnel.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Stop("Capture failed: " + ex.Message);
        }
    }

    /// <summary>
    /// Stops parsing: what is pending is recorded with <paramref name="reason"/> as its error (by this thread for each
    /// side it holds or finds free, else by the side's own thread when its call ends), and bytes pass from now on.
    /// </summary>
    private void Stop(string reason)
    {
        Interlocked.CompareExchange(ref _stopReason, reason, null);
        FlushFreeSides();
    }

    /// <summary>Flushes each side this thread holds or can take; the request side first, as exchanges complete in order.</summary>
    private void FlushFreeSides()
    {
        var reason = _stopReason!;
        Flush(_requests, reason);
        Flush(_responses, reason);

        static void Flush(Side side, string reason)
        {
            if (side.HeldHere)
            {
                side.Flush(reason);
                side.ReleaseBuffers();
            }
            else if (side.TryEnter())
            {
                try
                {
                    side.Flush(reason);
                    side.ReleaseBuffers();
                }
                finally
                {
                    side.Exit();
                }
            }
        }
    }

    /// <summary>Hands a request to the response side (request side only).</summary>
    private void Enqueue(TappedExchange exchange)
    {
        Volatile.Write(ref _queueTail.Next, exchange);
        _queueTail = exchange;
        // Publish before reading whether the response side holds early bytes for it (the response side holds them,
        // lets go of its side, then looks at the queue: one of the two sees the other).
        Interlocked.MemoryBarrier();
    }

    /// <summary>The oldest request not yet answered, or null (response side only).</summary>
    private TappedExchange? PeekAwaited() => Volatile.Read(ref _queueHead.Next);

    /// <summary>Takes the oldest request not yet answered, or null (response side only).</summary>
    private TappedExchange? TakeAwaited()
    {
        var next = Volatile.Read(ref _queueHead.Next);
        if (next is not null)
        {
            Volatile.Write(ref _queueHead, next);
        }
        return next;
    }

    /// <summary>A hint, from any thread: requests are waiting for responses (a stale head only errs towards yes).</summary>
    private bool ResponsesAwaited() => Volatile.Read(ref _queueHead).Next is not null;

    private void RequestDone(TappedExchange exchange)
    {
        if (exchange.MarkRequestDone())
        {
            Complete(exchange);
        }
    }

    private void ResponseDone(TappedExchange exchange)
    {
        if (exchange.MarkResponseDone())
        {
            Complete(exchange);
        }
    }

    /// <summary>Both halves are done: final timings, then to the sink.</summary>
    private void Complete(TappedExchange exchange)
    {
        var endTimestamp = Math.Max(exchange.RequestEndTimestamp, exchange.ResponseEndTimestamp);
        var end = endTimestamp != 0 ? endTimestamp : _time.GetTimestamp();
        var start = exchange.StartTimestamp != 0 ? exchange.StartTimestamp : end;
        if (exchange.StartTime == default)
        {
            exchange.StartTime = _time.GetUtcNow();
        }
        exchange.TimeToFirstByte = exchange.FirstByteTimestamp == 0 || exchange.FirstByteTimestamp < start
            ? TimeSpan.Zero
            : _time.GetElapsedTime(start, exchange.FirstByteTimestamp);
        exchange.Duration = end < start ? TimeSpan.Zero : _time.GetElapsedTime(start, end);
        _sink.OnExchange(exchange);
    }

    /// <summary>A sample of bytes that are not HTTP, kept as the exchange's body.</summary>
    private BodyCapture Sample(ReadOnlySpan<byte> held, ReadOnlySpan<byte> data)
    {
        var sample = new BodyCapture(Math.Min(_cap, UnparsedSampleSize), -1);
        sample.OnBodyData(held);
        sample.OnBodyData(data);
        return sample;
    }

    /// <summary>One direction's state, and the thread that may touch it: whichever holds it (a managed thread id).</summary>
    private abstract class Side
    {
        private int _holder;

        public bool HeldHere => Volatile.Read(ref _holder) == Environment.CurrentManagedThreadId;

        public bool TryEnter() => Interlocked.CompareExchange(ref _holder, Environment.CurrentManagedThreadId, 0) == 0;

        public void EnterWaiting()
        {
            var spin = default(SpinWait);
            while (!TryEnter())
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
        }

        public void Exit() => Interlocked.Exchange(ref _holder, 0);

        /// <summary>Records what this side has pending, with <paramref name="reason"/> as its error.</summary>
        public abstract void Flush(string reason);

        public abstract void ReleaseBuffers();
    }
}
