namespace TunnelPS.Engine.Http;

/// <summary>
/// Follows the responses on one proxied HTTP/1.x connection so the request side knows when every forwarded request
/// has been answered (for example before it re-routes the next request of a keep-alive connection elsewhere).
/// <para>
/// Call <see cref="RequestForwarded"/> for each request <b>before</b> writing it on, and pass every response byte to
/// <see cref="Observe"/> before writing it on: Observe says how many of the bytes may go on, holding back a head that
/// has not arrived in full, so that a head that turns out not to be HTTP is never passed on. It scans heads for their
/// framing (<see cref="HttpHeadScanner"/>, no strings) and walks bodies in the bytes given, copying only a head split
/// across reads, and allocates nothing per response. It never throws: a response it cannot parse
/// marks the tracker <see cref="Unparsed"/>; a 101 (or a 2xx to CONNECT) marks it <see cref="Upgraded"/>; after
/// either, it follows nothing more.
/// </para>
/// Thread-safety: Observe and <see cref="ConnectionClosed"/> run on the response-copy thread;
/// RequestForwarded and <see cref="WaitIdleAsync"/> on the request thread; the properties can be read anywhere.
/// </summary>
internal sealed class HttpResponseTracker : IDisposable
{
    private readonly object _lock = new();
    private readonly Queue<string> _methods = new();
    private int _outstanding;
    private TaskCompletionSource? _idle;
    private volatile bool _upgraded;
    private volatile bool _unparsed;
    private volatile bool _closed;
    private long _responsesCompleted;

    // Response-thread state: one framer, restarted for each response with a body.
    private readonly HttpBodyFramer _framer = new();
    private readonly PartialHead _head = new();
    private bool _inBody;

    /// <summary>Requests forwarded whose final response has not completed yet (1xx interim responses do not count).</summary>
    public int Outstanding
    {
        get
        {
            lock (_lock)
            {
                return _outstanding;
            }
        }
    }

    /// <summary>A 101 Switching Protocols (or a 2xx to CONNECT) was seen: everything after it is raw bytes.</summary>
    public bool Upgraded => _upgraded;

    /// <summary>The response stream could not be parsed as HTTP/1.x; the tracker no longer follows it.</summary>
    public bool Unparsed => _unparsed;

    /// <summary>Why the tracker gave up, when <see cref="Unparsed"/> is true.</summary>
    public string? UnparsedReason { get; private set; }

    /// <summary>
    /// True when the tracker gave up on a response head (no byte of that response was allowed on), false when it gave
    /// up inside a body (the head and part of the body already went on).
    /// </summary>
    public bool UnparsedAtHead { get; private set; }

    /// <summary>True while a response body is being walked (its head has gone on). Read on the response thread.</summary>
    public bool InBody => _inBody;

    /// <summary><see cref="ConnectionClosed"/> was called.</summary>
    public bool IsClosed => _closed;

    /// <summary>Final responses completed so far.</summary>
    public long ResponsesCompleted => Interlocked.Read(ref _responsesCompleted);

    /// <summary>Records that a request with <paramref name="method"/> is being forwarded. Call before writing it on.</summary>
    public void RequestForwarded(string method)
    {
        ArgumentNullException.ThrowIfNull(method);
        lock (_lock)
        {
            _methods.Enqueue(method);
            _outstanding++;
        }
    }

    /// <summary>
    /// Completes when <see cref="Outstanding"/> is 0, or when the tracker stops following the connection
    /// (<see cref="Upgraded"/>, <see cref="Unparsed"/> or closed): check those before reusing the connection.
    /// </summary>
    public ValueTask WaitIdleAsync(CancellationToken cancellationToken)
    {
        Task task;
        lock (_lock)
        {
            if (_outstanding == 0 || _upgraded || _unparsed || _closed)
            {
                return default;
            }
            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            task = _idle.Task;
        }
        return new ValueTask(task.WaitAsync(cancellationToken));
    }

    /// <summary>
    /// Follows response bytes. Returns where, relative to the start of <paramref name="data"/>, the bytes that may be
    /// passed on end: <c>data.Length</c> when all of them may; less when a head has not arrived in full or could not be
    /// parsed (the bytes from its start are held back). The result is negative when that head began in earlier data
    /// (its earlier bytes are held back too). Never throws; cheap: heads are parsed and bodies walked in place.
    /// </summary>
    public int Observe(ReadOnlySpan<byte> data)
    {
        if (_upgraded || data.IsEmpty)
        {
            return data.Length;
        }
        if (_unparsed)
        {
            return 0;
        }
        var headStart = 0;
        try
        {
            return ObserveCore(data, ref headStart);
        }
        catch (HttpParseException ex)
        {
            MarkUnparsed(ex.Message, atHead: !_inBody);
            return headStart;
        }
#pragma warning disable CA1031 // The response stream must never be broken by the tracker.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            MarkUnparsed("Internal error while following responses: " + ex.Message, atHead: !_inBody);
            return headStart;
        }
    }

    /// <summary>The response side of the connection ended: completes a body that runs until close and releases waiters.</summary>
    public void ConnectionClosed()
    {
        if (_inBody && _framer.OnConnectionClosed() && !_upgraded && !_unparsed)
        {
            _inBody = false;
            CompleteResponse();
        }
        lock (_lock)
        {
            _closed = true;
            ReleaseIdleLocked();
        }
    }

    /// <summary><see cref="Dispose"/> was called (its pooled head buffer went back to the pool).</summary>
    internal bool IsDisposed { get; private set; }

    public void Dispose()
    {
        IsDisposed = true;
        _head.Dispose();
    }

    private int ObserveCore(ReadOnlySpan<byte> data, ref int headStart)
    {
        var length = data.Length;
        while (!data.IsEmpty)
        {
            if (_inBody)
            {
                var consumed = _framer.Advance(data, out var complete);
                data = data[consumed..];
                if (complete)
                {
                    _inBody = false;
                    CompleteResponse();
                }
                continue;
            }

            // Where this head starts, relative to the data given (before it when part of it came earlier).
            headStart = length - data.Length - _head.Count;
            if (!_head.TryTake(ref data, HttpHeadScanner.TryScanResponse, out var head, out _))
            {
                return headStart;
            }

            if (!OnHead(head))
            {
                // Upgraded: the rest is raw bytes and goes on. Unparsed: this head is held back.
                return _unparsed ? headStart : length;
            }
        }
        return length;
    }

    /// <summary>Handles a scanned head; false when the tracker stops following the stream.</summary>
    private bool OnHead(in ScannedHead head)
    {
        if (head.IsInterim)
        {
            return true;
        }
        string? method;
        lock (_lock)
        {
            _methods.TryDequeue(out method);
        }
        if (method is null)
        {
            MarkUnparsed($"A {head.StatusCode} response arrived for no forwarded request.", atHead: true);
            return false;
        }
        var isConnect = string.Equals(method, "CONNECT", StringComparison.OrdinalIgnoreCase);
        if (head.StatusCode == 101 || (head.StatusCode is >= 200 and < 300 && isConnect))
        {
            _upgraded = true;
            CompleteResponse();
            return false;
        }
        _framer.StartResponse(head, string.Equals(method, "HEAD", StringComparison.OrdinalIgnoreCase), isConnect);
        if (_framer.IsComplete)
        {
            CompleteResponse();
        }
        else
        {
            _inBody = true;
        }
        return true;
    }

    private void CompleteResponse()
    {
        Interlocked.Increment(ref _responsesCompleted);
        lock (_lock)
        {
            if (_outstanding > 0)
            {
                _outstanding--;
            }
            if (_outstanding == 0 || _upgraded)
            {
                ReleaseIdleLocked();
            }
        }
    }

    private void MarkUnparsed(string reason, bool atHead)
    {
        UnparsedReason = reason;
        UnparsedAtHead = atHead;
        _inBody = false;
        lock (_lock)
        {
            _unparsed = true;
            ReleaseIdleLocked();
        }
    }

    private void ReleaseIdleLocked()
    {
        var idle = _idle;
        _idle = null;
        idle?.TrySetResult();
    }
}
