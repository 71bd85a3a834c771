namespace TunnelPS.Engine.Http;

/// <summary>
/// Follows the responses on one proxied HTTP/1.x connection so the request side knows when every forwarded request
/// has been answered (for example before it re-routes the next request of a keep-alive connection elsewhere).
/// <para>
/// Call <see cref="RequestForwarded"/> for each request <b>before</b> writing it on, and pass every response byte to
/// <see cref="Observe"/> after writing it on. Observe parses heads and walks bodies in the bytes given, copying only a
/// head split across reads. It never throws: a response it cannot parse marks the tracker <see cref="Unparsed"/>; a
/// 101 (or a 2xx to CONNECT) marks it <see cref="Upgraded"/>; after either, bytes are ignored.
/// </para>
/// Thread-safety: Observe and <see cref="ConnectionClosed"/> run on the response-copy thread;
/// RequestForwarded and <see cref="WaitIdleAsync"/> on the request thread; the properties can be read anywhere.
/// </summary>
public sealed class HttpResponseTracker : IDisposable
{
    private readonly object _lock = new();
    private readonly Queue<string> _methods = new();
    private int _outstanding;
    private TaskCompletionSource? _idle;
    private volatile bool _upgraded;
    private volatile bool _unparsed;
    private volatile bool _closed;
    private long _responsesCompleted;

    // Response-thread state.
    private HttpBodyFramer? _framer;
    private readonly PartialHead _head = new();

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

    /// <summary>Follows response bytes. Never throws; cheap: heads are parsed and bodies walked in place.</summary>
    public void Observe(ReadOnlySpan<byte> data)
    {
        if (_upgraded || _unparsed || data.IsEmpty)
        {
            return;
        }
        try
        {
            ObserveCore(data);
        }
        catch (HttpParseException ex)
        {
            MarkUnparsed(ex.Message);
        }
#pragma warning disable CA1031 // The response stream must never be broken by the tracker.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            MarkUnparsed("Internal error while following responses: " + ex.Message);
        }
    }

    /// <summary>The response side of the connection ended: completes a body that runs until close and releases waiters.</summary>
    public void ConnectionClosed()
    {
        if (_framer is not null && _framer.OnConnectionClosed() && !_upgraded && !_unparsed)
        {
            _framer = null;
            CompleteResponse();
        }
        lock (_lock)
        {
            _closed = true;
            ReleaseIdleLocked();
        }
    }

    public void Dispose() => _head.Dispose();

    private void ObserveCore(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_framer is not null)
            {
                var consumed = _framer.Advance(data, out var complete);
                data = data[consumed..];
                if (complete)
                {
                    _framer = null;
                    CompleteResponse();
                }
                continue;
            }

            if (!_head.TryTake<HttpResponseHead>(ref data, HttpHeadParser.TryParseResponseHead, out var head, out _))
            {
                return;
            }

            if (!OnHead(head))
            {
                return;
            }
        }
    }

    /// <summary>Handles a parsed head; false when the tracker stops following the stream.</summary>
    private bool OnHead(HttpResponseHead head)
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
            MarkUnparsed($"A {head.StatusCode} response arrived for no forwarded request.");
            return false;
        }
        if (head.StatusCode == 101 || (head.StatusCode is >= 200 and < 300 && string.Equals(method, "CONNECT", StringComparison.OrdinalIgnoreCase)))
        {
            _upgraded = true;
            CompleteResponse();
            return false;
        }
        var framer = HttpBodyFramer.ForResponse(head, method);
        if (framer.IsComplete)
        {
            CompleteResponse();
        }
        else
        {
            _framer = framer;
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

    private void MarkUnparsed(string reason)
    {
        UnparsedReason = reason;
        _framer = null;
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
