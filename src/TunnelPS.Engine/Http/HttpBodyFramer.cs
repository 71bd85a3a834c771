using System.Buffers;

namespace TunnelPS.Engine.Http;

/// <summary>
/// Walks the body of one HTTP/1.x message across any number of reads, telling the caller how many of the bytes in hand
/// belong to the body so it can forward exactly the body and parse the next head from the rest. Works with arbitrary
/// splits (one byte at a time included) and copies nothing; decoded data can be observed through an
/// <see cref="IHttpBodySink"/>. Not thread-safe: one framer per message, used by one reader.
/// </summary>
internal sealed partial class HttpBodyFramer
{
    /// <summary>The longest chunk-size line accepted (size digits, leading zeros included, plus extensions).</summary>
    public const int MaxChunkLineLength = 16 * 1024;

    /// <summary>Bytes that end or break a chunk extension: CR, LF and the other control characters but tab.</summary>
    private static readonly SearchValues<byte> ExtensionStops = SearchValues.Create([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]);

    /// <summary>Bytes that end or break a request's trailer value: as for extensions, plus DEL (as in a request head).</summary>
    private static readonly SearchValues<byte> StrictTrailerStops = SearchValues.Create([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 127]);

    /// <summary>Bytes that end or break a response's trailer value: CR, LF and NUL (as in a response head).</summary>
    private static readonly SearchValues<byte> LenientTrailerStops = SearchValues.Create([0, (byte)'\n', (byte)'\r']);

    private bool _strict;
    private ChunkState _state;
    private long _remaining;
    private int _lineLength;
    private int _trailerLength;
    private int _trailerNameLength;
    private bool _sizeHasDigit;

    /// <summary>A framer to reuse message after message: it walks no body until it is restarted.</summary>
    internal HttpBodyFramer()
        : this(HttpBodyKind.None, -1, strict: false)
    {
    }

    private HttpBodyFramer(HttpBodyKind kind, long contentLength, bool strict) => Restart(kind, contentLength, strict);

    private enum ChunkState
    {
        Size,
        SizeWhitespace,
        Extension,
        SizeLf,
        Data,
        DataCr,
        DataLf,
        TrailerLineStart,
        TrailerName,
        TrailerValue,
        TrailerLf,
        FinalLf,
    }

    /// <summary>How the body is delimited.</summary>
    public HttpBodyKind Kind { get; private set; }

    /// <summary>The declared Content-Length, or -1.</summary>
    public long ContentLength { get; private set; }

    /// <summary>True once the whole body (for chunked: through the trailer section) has been walked.</summary>
    public bool IsComplete { get; private set; }

    /// <summary>Body bytes on the wire walked so far (chunk framing included).</summary>
    public long WireBytes { get; private set; }

    /// <summary>Decoded body bytes walked so far (chunk framing excluded).</summary>
    public long DataBytes { get; private set; }

    /// <summary>The framer for a request body: chunked, Content-Length, or none (RFC 9112 6.3: no length means no body).</summary>
    /// <exception cref="HttpParseException">The framing headers are invalid (see <see cref="HttpHeadParser"/>).</exception>
    public static HttpBodyFramer ForRequest(HttpRequestHead head)
    {
        ArgumentNullException.ThrowIfNull(head);
        return ForRequest(HttpFraming.Analyze(head.Headers, isRequest: true, head.IsHttp11));
    }

    /// <summary>The framer for a request body whose framing headers were already read (see <see cref="HttpFraming"/>).</summary>
    internal static HttpBodyFramer ForRequest(HttpFraming framing) =>
        new(RequestBodyKind(framing.IsChunked, framing.ContentLength), framing.IsChunked ? -1 : framing.ContentLength, strict: true);

    /// <summary>
    /// The framer for a response body. No body for a response to HEAD, 1xx (101 included: the caller switches to raw
    /// bytes), 204, 304 and a 2xx to CONNECT; otherwise chunked, Content-Length, or until the connection closes.
    /// </summary>
    /// <exception cref="HttpParseException">The framing headers are invalid.</exception>
    public static HttpBodyFramer ForResponse(HttpResponseHead head, string requestMethod)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(requestMethod);
        var isHead = string.Equals(requestMethod, "HEAD", StringComparison.OrdinalIgnoreCase);
        var isConnect = string.Equals(requestMethod, "CONNECT", StringComparison.OrdinalIgnoreCase);
        if (!ResponseHasBody(head.StatusCode, isHead, isConnect))
        {
            return new HttpBodyFramer(HttpBodyKind.None, -1, strict: false);
        }
        var framing = HttpFraming.Analyze(head.Headers, isRequest: false, head.IsHttp11);
        var kind = ResponseBodyKind(framing.HasTransferEncoding, framing.IsChunked, framing.ContentLength);
        return new HttpBodyFramer(kind, kind == HttpBodyKind.ContentLength ? framing.ContentLength : -1, strict: false);
    }

    /// <summary>Starts walking the body of a request whose framing headers were already read (as <see cref="ForRequest(HttpFraming)"/>).</summary>
    internal void StartRequest(HttpFraming framing) =>
        Restart(RequestBodyKind(framing.IsChunked, framing.ContentLength), framing.IsChunked ? -1 : framing.ContentLength, strict: true);

    /// <summary>Starts walking the body of a request whose head <see cref="HttpHeadScanner"/> scanned (as <see cref="ForRequest"/>).</summary>
    internal void StartRequest(in ScannedHead head) =>
        Restart(RequestBodyKind(head.IsChunked, head.ContentLength), head.IsChunked ? -1 : head.ContentLength, strict: true);

    /// <summary>
    /// Starts walking the body of a response whose head <see cref="HttpHeadScanner"/> scanned, answering a request
    /// whose method is HEAD or CONNECT (in any case) as flagged (as <see cref="ForResponse"/>).
    /// </summary>
    internal void StartResponse(in ScannedHead head, bool requestIsHead, bool requestIsConnect)
    {
        if (!ResponseHasBody(head.StatusCode, requestIsHead, requestIsConnect))
        {
            Restart(HttpBodyKind.None, -1, strict: false);
            return;
        }
        var kind = ResponseBodyKind(head.HasTransferEncoding, head.IsChunked, head.ContentLength);
        Restart(kind, kind == HttpBodyKind.ContentLength ? head.ContentLength : -1, strict: false);
    }

    /// <summary>RFC 9112 6.3: chunked, else Content-Length when it is above 0, else no body.</summary>
    private static HttpBodyKind RequestBodyKind(bool isChunked, long contentLength) =>
        isChunked ? HttpBodyKind.Chunked : contentLength > 0 ? HttpBodyKind.ContentLength : HttpBodyKind.None;

    /// <summary>No body for a response to HEAD, 1xx (101 included), 204, 304 and a 2xx to CONNECT.</summary>
    private static bool ResponseHasBody(int status, bool requestIsHead, bool requestIsConnect) =>
        !(status < 200 || status == 204 || status == 304 || requestIsHead || (status < 300 && requestIsConnect));

    /// <summary>Transfer-Encoding: chunked if that is the last coding, else until close; else Content-Length; else until close.</summary>
    private static HttpBodyKind ResponseBodyKind(bool hasTransferEncoding, bool isChunked, long contentLength) =>
        hasTransferEncoding ? (isChunked ? HttpBodyKind.Chunked : HttpBodyKind.UntilClose)
        : contentLength >= 0 ? HttpBodyKind.ContentLength
        : HttpBodyKind.UntilClose;

    private void Restart(HttpBodyKind kind, long contentLength, bool strict)
    {
        _strict = strict;
        Kind = kind;
        ContentLength = contentLength;
        _remaining = Math.Max(0, contentLength);
        IsComplete = kind == HttpBodyKind.None || (kind == HttpBodyKind.ContentLength && contentLength == 0);
        _state = ChunkState.Size;
        _lineLength = 0;
        _trailerLength = 0;
        _trailerNameLength = 0;
        _sizeHasDigit = false;
        WireBytes = 0;
        DataBytes = 0;
    }

    /// <summary>Walks the body bytes at the start of <paramref name="data"/>; returns how many belong to this body.</summary>
    /// <exception cref="HttpParseException">The chunk framing is malformed.</exception>
    public int Advance(ReadOnlySpan<byte> data, out bool complete) => Advance(data, null, out complete);

    /// <summary>
    /// Walks the body bytes at the start of <paramref name="data"/>, passing the decoded body data to
    /// <paramref name="sink"/> as slices of <paramref name="data"/>; returns how many bytes belong to this body.
    /// </summary>
    /// <exception cref="HttpParseException">The chunk framing is malformed.</exception>
    public int Advance(ReadOnlySpan<byte> data, IHttpBodySink? sink, out bool complete)
    {
        if (IsComplete)
        {
            complete = true;
            return 0;
        }
        int consumed;
        switch (Kind)
        {
            case HttpBodyKind.ContentLength:
                consumed = (int)Math.Min(_remaining, data.Length);
                _remaining -= consumed;
                DataBytes += consumed;
                if (consumed > 0)
                {
                    sink?.OnBodyData(data[..consumed]);
                }
                IsComplete = _remaining == 0;
                break;
            case HttpBodyKind.UntilClose:
                consumed = data.Length;
                DataBytes += consumed;
                if (consumed > 0)
                {
                    sink?.OnBodyData(data);
                }
                break;
            case HttpBodyKind.Chunked:
                consumed = AdvanceChunked(data, sink);
                break;
            default:
                consumed = 0;
                break;
        }
        WireBytes += consumed;
        complete = IsComplete;
        return consumed;
    }

    /// <summary>
    /// Tells the framer the connection closed. Completes an until-close body; returns false if the body was cut short
    /// (a Content-Length or chunked body that had not ended).
    /// </summary>
    public bool OnConnectionClosed()
    {
        if (Kind == HttpBodyKind.UntilClose)
        {
            IsComplete = true;
        }
        return IsComplete;
    }
}
