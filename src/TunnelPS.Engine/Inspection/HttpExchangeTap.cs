using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Inspection;

/// <summary>
/// Records every HTTP/1.x request/response pair crossing one tunnelled connection into a <see cref="CaptureStore"/>.
/// <para>
/// It parses the bytes it is handed in place (heads, body framing) and copies bodies only up to
/// <see cref="CaptureStore.MaxBodySize"/>; it never holds the stream back. Keep-alive and pipelined requests,
/// Content-Length, chunked (the de-chunked body is stored), until-close bodies, HEAD/204/304, 100-continue and
/// Upgrade (the handshake is recorded with its 101, then bytes pass unparsed) are handled. Bytes that are not HTTP
/// are recorded once as an <see cref="CapturedExchange.IsUnparsed"/> exchange, after which the tap only passes.
/// </para>
/// <para>
/// The two directions call in from two threads; one short lock serialises them. A response can be handed in before
/// the request that caused it (each direction reports after writing), so response bytes that arrive with no request
/// pending are held (copied, at most 1 MiB) until the request head is seen. No method throws.
/// </para>
/// </summary>
public sealed class HttpExchangeTap : IDisposable
{
    /// <summary>The most response bytes held while waiting for the request they answer.</summary>
    internal const int MaxEarlyResponseBytes = 1024 * 1024;

    /// <summary>How many bytes of unparsable traffic are kept as a sample.</summary>
    internal const int UnparsedSampleSize = 64 * 1024;

    private readonly object _gate = new();
    private readonly CaptureStore _store;
    private readonly CaptureContext _context;
    private readonly TimeProvider _time;
    private readonly int _cap;

    // Visitor → local (requests).
    private readonly PartialHead _requestHead = new();
    private RequestMode _requestMode;
    private bool _requestStarted;
    private long _requestStartTimestamp;
    private DateTimeOffset _requestStartTime;
    private Exchange? _request;
    private HttpBodyFramer? _requestFramer;

    // Local → visitor (responses).
    private readonly Queue<Exchange> _awaiting = new();
    private readonly PartialHead _responseHead = new();
    private Exchange? _response;
    private HttpBodyFramer? _responseFramer;
    private readonly PartialHead _early = new();
    private long _earlyTimestamp;

    private bool _stopped;
    private bool _closed;

    public HttpExchangeTap(CaptureStore store, CaptureContext context)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(context);
        _store = store;
        _context = context;
        _time = context.TimeProvider;
        _cap = store.MaxBodySize;
    }

    private enum RequestMode
    {
        Head,
        Body,
        AwaitingUpgradeDecision,
    }

    /// <summary>True once the tap stopped parsing (upgrade, unparsable bytes, or close) and only passes bytes.</summary>
    public bool IsPassThrough
    {
        get
        {
            lock (_gate)
            {
                return _stopped || _closed;
            }
        }
    }

    public void OnVisitorData(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }
        lock (_gate)
        {
            if (_stopped || _closed)
            {
                return;
            }
            try
            {
                VisitorCore(data);
            }
            catch (HttpParseException ex)
            {
                OnRequestParseError(ex.Message, data);
            }
#pragma warning disable CA1031 // A tap must never break the tunnel.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                StopParsing("Capture failed: " + ex.Message);
            }
        }
    }

    public void OnLocalData(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }
        lock (_gate)
        {
            if (_stopped || _closed)
            {
                return;
            }
            try
            {
                if (_early.Count > 0)
                {
                    HoldEarly(data);
                    return;
                }
                LocalCore(data, 0);
            }
            catch (HttpParseException ex)
            {
                OnResponseParseError(ex.Message, data);
            }
#pragma warning disable CA1031 // A tap must never break the tunnel.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                StopParsing("Capture failed: " + ex.Message);
            }
        }
    }

    public void OnClosed()
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            _closed = true;
            try
            {
                if (!_stopped)
                {
                    if (_responseFramer is not null && _response is not null && _responseFramer.OnConnectionClosed())
                    {
                        FinishResponse(_response);
                    }
                    if (_requestMode == RequestMode.Head && _request is null && HasContent(_requestHead.Span))
                    {
                        RecordUnparsedRequest("The connection closed before the request head was complete.", _requestHead.Span, default);
                    }
                    FlushPending("The connection closed before the exchange was complete.");
                }
            }
#pragma warning disable CA1031 // A tap must never break the tunnel.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
            ReleaseBuffers();
        }
    }

    public void Dispose() => OnClosed();

    private void VisitorCore(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty && !_stopped)
        {
            switch (_requestMode)
            {
                case RequestMode.Body:
                    {
                        var request = _request!;
                        var used = _requestFramer!.Advance(data, request.RequestBody, out var complete);
                        request.BytesIn += used;
                        data = data[used..];
                        if (complete)
                        {
                            FinishRequest(request);
                        }
                        break;
                    }
                case RequestMode.AwaitingUpgradeDecision:
                    // Bytes sent after an upgrade request before its response was seen: the protocol after a 101.
                    return;
                default:
                    {
                        if (!_requestStarted)
                        {
                            _requestStarted = true;
                            _requestStartTimestamp = _time.GetTimestamp();
                            _requestStartTime = _time.GetUtcNow();
                        }
                        if (!_requestHead.TryTake<HttpRequestHead>(ref data, HttpHeadParser.TryParseRequestHead, out var head, out var headLength))
                        {
                            return;
                        }
                        StartRequest(head, headLength);
                        break;
                    }
            }
        }
    }

    private void StartRequest(HttpRequestHead head, int headLength)
    {
        _requestStarted = false;
        var framer = HttpBodyFramer.ForRequest(head);
        var exchange = new Exchange
        {
            Method = head.Method,
            Target = head.Target,
            Version = head.Version,
            RequestHeaders = head.Headers.ToArray(),
            Host = head.Host,
            StartTimestamp = _requestStartTimestamp,
            StartTime = _requestStartTime,
            BytesIn = headLength,
            RequestBody = new BodyCapture(_cap, framer.ContentLength),
            WantsUpgrade = head.IsUpgradeRequest || head.IsConnect,
        };
        _awaiting.Enqueue(exchange);
        if (framer.IsComplete)
        {
            FinishRequest(exchange);
        }
        else
        {
            _request = exchange;
            _requestFramer = framer;
            _requestMode = RequestMode.Body;
        }
        DrainEarlyResponses();
    }

    private void FinishRequest(Exchange exchange)
    {
        exchange.RequestDone = true;
        exchange.EndTimestamp = Math.Max(exchange.EndTimestamp, _time.GetTimestamp());
        _request = null;
        _requestFramer = null;
        _requestMode = exchange.WantsUpgrade && !exchange.ResponseDone ? RequestMode.AwaitingUpgradeDecision : RequestMode.Head;
        TryStore(exchange);
    }

    private void LocalCore(ReadOnlySpan<byte> data, long firstByteTimestamp)
    {
        while (!data.IsEmpty && !_stopped)
        {
            if (_responseFramer is not null)
            {
                var response = _response!;
                var used = _responseFramer.Advance(data, response.ResponseBody, out var complete);
                response.BytesOut += used;
                data = data[used..];
                if (complete)
                {
                    FinishResponse(response);
                }
                continue;
            }

            if (_awaiting.Count == 0)
            {
                HoldEarly(data);
                return;
            }
            var exchange = _awaiting.Peek();
            if (exchange.FirstByteTimestamp == 0)
            {
                exchange.FirstByteTimestamp = firstByteTimestamp != 0 ? firstByteTimestamp : _time.GetTimestamp();
            }

            if (!_responseHead.TryTake<HttpResponseHead>(ref data, HttpHeadParser.TryParseResponseHead, out var head, out var headLength))
            {
                return;
            }
            exchange.BytesOut += headLength;
            if (head.IsInterim)
            {
                continue;
            }

            _awaiting.Dequeue();
            exchange.Status = head.StatusCode;
            exchange.Reason = head.Reason;
            exchange.ResponseHeaders = head.Headers.ToArray();
            if (head.StatusCode == 101 || (exchange.WantsUpgrade && head.StatusCode is >= 200 and < 300
                && string.Equals(exchange.Method, "CONNECT", StringComparison.OrdinalIgnoreCase)))
            {
                exchange.IsUpgrade = true;
                exchange.RequestDone = true;
                FinishResponse(exchange);
                StopParsing(null);
                return;
            }
            if (exchange.WantsUpgrade)
            {
                exchange.WantsUpgrade = false;
                if (_requestMode == RequestMode.AwaitingUpgradeDecision)
                {
                    _requestMode = RequestMode.Head;
                }
            }
            var framer = HttpBodyFramer.ForResponse(head, exchange.Method);
            exchange.ResponseBody = new BodyCapture(_cap, framer.ContentLength);
            if (framer.IsComplete)
            {
                FinishResponse(exchange);
            }
            else
            {
                _response = exchange;
                _responseFramer = framer;
            }
        }
    }

    private void FinishResponse(Exchange exchange)
    {
        exchange.ResponseDone = true;
        exchange.EndTimestamp = Math.Max(exchange.EndTimestamp, _time.GetTimestamp());
        if (ReferenceEquals(_response, exchange))
        {
            _response = null;
            _responseFramer = null;
        }
        TryStore(exchange);
    }

    private void HoldEarly(ReadOnlySpan<byte> data)
    {
        if (_early.Count == 0)
        {
            _earlyTimestamp = _time.GetTimestamp();
        }
        if (_early.Count + data.Length > MaxEarlyResponseBytes)
        {
            OnResponseParseError($"More than {MaxEarlyResponseBytes / 1024} KiB of response bytes arrived with no request to answer.", data);
            return;
        }
        _early.Append(data);
    }

    private void DrainEarlyResponses()
    {
        if (_early.Count == 0)
        {
            return;
        }
        var held = _early.Span.ToArray();
        _early.Reset();
        try
        {
            LocalCore(held, _earlyTimestamp);
        }
        catch (HttpParseException ex)
        {
            OnResponseParseError(ex.Message, held);
        }
    }

    private void TryStore(Exchange exchange)
    {
        if (exchange.Stored || !exchange.RequestDone || !exchange.ResponseDone)
        {
            return;
        }
        exchange.Stored = true;
        Store(exchange);
    }

    private void Store(Exchange exchange)
    {
        var end = exchange.EndTimestamp != 0 ? exchange.EndTimestamp : _time.GetTimestamp();
        var start = exchange.StartTimestamp != 0 ? exchange.StartTimestamp : end;
        var request = exchange.RequestBody;
        var response = exchange.ResponseBody;
        _store.Add(new CapturedExchange
        {
            TunnelName = _context.TunnelName,
            PublicUrl = _context.PublicUrl,
            LocalAddress = _context.LocalAddress,
            ConnectionId = _context.ConnectionId,
            ClientAddress = _context.ClientAddress,
            Scheme = _context.Scheme,
            Host = exchange.Host,
            Method = exchange.Method,
            Target = exchange.Target,
            HttpVersion = exchange.Version,
            RequestHeaders = exchange.RequestHeaders,
            RequestBody = request?.Memory ?? ReadOnlyMemory<byte>.Empty,
            RequestBodySize = request?.Total ?? 0,
            RequestTruncated = request?.Truncated ?? false,
            Status = exchange.Status,
            Reason = exchange.Reason,
            ResponseHeaders = exchange.ResponseHeaders,
            ResponseBody = response?.Memory ?? ReadOnlyMemory<byte>.Empty,
            ResponseBodySize = response?.Total ?? 0,
            ResponseTruncated = response?.Truncated ?? false,
            StartTime = exchange.StartTime == default ? _time.GetUtcNow() : exchange.StartTime,
            TimeToFirstByte = exchange.FirstByteTimestamp == 0 || exchange.FirstByteTimestamp < start
                ? TimeSpan.Zero
                : _time.GetElapsedTime(start, exchange.FirstByteTimestamp),
            Duration = end < start ? TimeSpan.Zero : _time.GetElapsedTime(start, end),
            BytesIn = exchange.BytesIn,
            BytesOut = exchange.BytesOut,
            IsUnparsed = exchange.IsUnparsed,
            IsUpgrade = exchange.IsUpgrade,
            Error = exchange.Error,
        });
    }

    private void OnRequestParseError(string message, ReadOnlySpan<byte> data)
    {
        if (_requestMode == RequestMode.Head && _request is null)
        {
            RecordUnparsedRequest(message, _requestHead.Span, data);
        }
        else if (_request is not null)
        {
            _request.Error ??= "Unparsable request body framing: " + message;
            _request.IsUnparsed = true;
        }
        StopParsing("Capture stopped: " + message);
    }

    private void OnResponseParseError(string message, ReadOnlySpan<byte> data)
    {
        var exchange = _response ?? (_awaiting.Count > 0 ? _awaiting.Dequeue() : null);
        if (exchange is not null)
        {
            exchange.IsUnparsed = true;
            exchange.Error = message;
            if (exchange.ResponseBody is null)
            {
                var sample = new BodyCapture(Math.Min(_cap, UnparsedSampleSize), -1);
                sample.OnBodyData(_responseHead.Span);
                sample.OnBodyData(data);
                exchange.ResponseBody = sample;
            }
            exchange.RequestDone = true;
            FinishResponse(exchange);
        }
        StopParsing("Capture stopped: " + message);
    }

    private void RecordUnparsedRequest(string message, ReadOnlySpan<byte> partial, ReadOnlySpan<byte> data)
    {
        var sample = new BodyCapture(Math.Min(_cap, UnparsedSampleSize), -1);
        sample.OnBodyData(partial);
        sample.OnBodyData(data);
        var exchange = new Exchange
        {
            StartTimestamp = _requestStarted ? _requestStartTimestamp : _time.GetTimestamp(),
            StartTime = _requestStarted ? _requestStartTime : _time.GetUtcNow(),
            RequestBody = sample,
            BytesIn = partial.Length + data.Length,
            IsUnparsed = true,
            Error = message,
            RequestDone = true,
            ResponseDone = true,
        };
        _requestHead.Reset();
        _requestStarted = false;
        exchange.Stored = true;
        Store(exchange);
    }

    /// <summary>Stops parsing: records what is pending (with <paramref name="reason"/> as its error) and passes bytes from now on.</summary>
    private void StopParsing(string? reason)
    {
        _stopped = true;
        FlushPending(reason ?? "The connection switched protocols before the exchange was complete.");
        ReleaseBuffers();
    }

    private void FlushPending(string reason)
    {
        if (_request is not null)
        {
            _request.Error ??= reason;
            _request.RequestDone = true;
            TryStore(_request);
            _request = null;
        }
        if (_response is not null)
        {
            _response.Error ??= reason;
            _response.ResponseDone = true;
            TryStore(_response);
            _response = null;
        }
        while (_awaiting.Count > 0)
        {
            var exchange = _awaiting.Dequeue();
            exchange.Error ??= reason;
            exchange.RequestDone = true;
            exchange.ResponseDone = true;
            TryStore(exchange);
        }
        _requestFramer = null;
        _responseFramer = null;
    }

    private void ReleaseBuffers()
    {
        _requestHead.Dispose();
        _responseHead.Dispose();
        _early.Dispose();
    }

    private static bool HasContent(ReadOnlySpan<byte> bytes) => bytes.IndexOfAnyExcept((byte)'\r', (byte)'\n') >= 0;

    /// <summary>One exchange being assembled. Only touched under the tap's lock.</summary>
    private sealed class Exchange
    {
        public string Method { get; init; } = string.Empty;
        public string Target { get; init; } = string.Empty;
        public string Version { get; init; } = "HTTP/1.1";
        public IReadOnlyList<KeyValuePair<string, string>> RequestHeaders { get; init; } = [];
        public string? Host { get; init; }
        public long StartTimestamp { get; init; }
        public DateTimeOffset StartTime { get; init; }
        public BodyCapture? RequestBody { get; init; }
        public bool WantsUpgrade { get; set; }
        public long BytesIn { get; set; }
        public long BytesOut { get; set; }
        public long FirstByteTimestamp { get; set; }
        public long EndTimestamp { get; set; }
        public int Status { get; set; }
        public string Reason { get; set; } = string.Empty;
        public IReadOnlyList<KeyValuePair<string, string>> ResponseHeaders { get; set; } = [];
        public BodyCapture? ResponseBody { get; set; }
        public bool RequestDone { get; set; }
        public bool ResponseDone { get; set; }
        public bool IsUnparsed { get; set; }
        public bool IsUpgrade { get; set; }
        public string? Error { get; set; }
        public bool Stored { get; set; }
    }
}
