using System.Buffers;

namespace TunnelPS.Engine.Http;

/// <summary>
/// Walks the body of one HTTP/1.x message across any number of reads, telling the caller how many of the bytes in hand
/// belong to the body so it can forward exactly the body and parse the next head from the rest. Works with arbitrary
/// splits (one byte at a time included) and copies nothing; decoded data can be observed through an
/// <see cref="IHttpBodySink"/>. Not thread-safe: one framer per message, used by one reader.
/// </summary>
internal sealed class HttpBodyFramer
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

    /// <summary>
    /// Walks chunked framing (RFC 9112 7.1) byte by byte, so any split of the input gives the same result. Every error
    /// is an <see cref="HttpParseException"/> (400) whose message starts "Malformed chunked body: ". Lines end in CRLF;
    /// a response (observed, from the user's own service) may also end them in a bare LF, as its head may.
    /// </summary>
    private int AdvanceChunked(ReadOnlySpan<byte> data, IHttpBodySink? sink)
    {
        var i = 0;
        while (i < data.Length)
        {
            var b = data[i];
            switch (_state)
            {
                case ChunkState.Size:
                    {
                        var digit = HexValue(b);
                        if (digit >= 0)
                        {
                            if (_remaining > (long.MaxValue >> 4))
                            {
                                throw Malformed("the chunk size is too large.");
                            }
                            _remaining = (_remaining << 4) | (uint)digit;
                            _sizeHasDigit = true;
                            CountLineBytes(1);
                            i++;
                            continue;
                        }
                        if (!_sizeHasDigit)
                        {
                            throw Malformed("a chunk size is not a hexadecimal number.");
                        }
                        i++;
                        if (b == (byte)'\r')
                        {
                            _state = ChunkState.SizeLf;
                        }
                        else if (b == (byte)'\n')
                        {
                            RequireCrlf("a chunk-size line");
                            EndSizeLine();
                        }
                        else if (b == (byte)';')
                        {
                            CountLineBytes(1);
                            _state = ChunkState.Extension;
                        }
                        else if (b is (byte)' ' or (byte)'\t')
                        {
                            CountLineBytes(1);
                            _state = ChunkState.SizeWhitespace;
                        }
                        else
                        {
                            throw Malformed("invalid character after a chunk size.");
                        }
                        continue;
                    }
                case ChunkState.SizeWhitespace:
                    // Whitespace after the size may only lead to an extension (";") or the end of the line.
                    i++;
                    if (b is (byte)' ' or (byte)'\t')
                    {
                        CountLineBytes(1);
                    }
                    else if (b == (byte)';')
                    {
                        CountLineBytes(1);
                        _state = ChunkState.Extension;
                    }
                    else if (b == (byte)'\r')
                    {
                        _state = ChunkState.SizeLf;
                    }
                    else if (b == (byte)'\n')
                    {
                        RequireCrlf("a chunk-size line");
                        EndSizeLine();
                    }
                    else
                    {
                        throw Malformed("whitespace after a chunk size is not followed by ';' or the line end.");
                    }
                    continue;
                case ChunkState.Extension:
                    {
                        // Skip the extension up to the line end; control characters other than tab are rejected. The
                        // bytes before the first CR, LF or control character are counted, then that byte is judged:
                        // the same order as one byte at a time, so the error does not depend on the split.
                        var rest = data[i..];
                        var stop = rest.IndexOfAny(ExtensionStops);
                        CountLineBytes(stop < 0 ? rest.Length : stop);
                        if (stop < 0)
                        {
                            i = data.Length;
                            continue;
                        }
                        i += stop + 1;
                        if (rest[stop] == (byte)'\r')
                        {
                            _state = ChunkState.SizeLf;
                        }
                        else if (rest[stop] == (byte)'\n')
                        {
                            RequireCrlf("a chunk-size line");
                            EndSizeLine();
                        }
                        else
                        {
                            throw Malformed("control character in a chunk extension.");
                        }
                        continue;
                    }
                case ChunkState.SizeLf:
                    if (b != (byte)'\n')
                    {
                        throw Malformed("CR without LF after a chunk size.");
                    }
                    i++;
                    EndSizeLine();
                    continue;
                case ChunkState.Data:
                    {
                        var take = (int)Math.Min(_remaining, data.Length - i);
                        sink?.OnBodyData(data.Slice(i, take));
                        DataBytes += take;
                        _remaining -= take;
                        i += take;
                        if (_remaining == 0)
                        {
                            _state = ChunkState.DataCr;
                        }
                        continue;
                    }
                case ChunkState.DataCr:
                    if (b == (byte)'\n')
                    {
                        RequireCrlf("chunk data");
                        i++;
                        _state = ChunkState.Size;
                        continue;
                    }
                    if (b != (byte)'\r')
                    {
                        throw Malformed("chunk data is longer than its size (no CRLF after it).");
                    }
                    i++;
                    _state = ChunkState.DataLf;
                    continue;
                case ChunkState.DataLf:
                    if (b != (byte)'\n')
                    {
                        throw Malformed("CR without LF after chunk data.");
                    }
                    i++;
                    _state = ChunkState.Size;
                    continue;
                case ChunkState.TrailerLineStart:
                    if (b is (byte)'\r' or (byte)'\n')
                    {
                        CountTrailerBytes(1);
                        i++;
                        if (b == (byte)'\r')
                        {
                            _state = ChunkState.FinalLf;
                            continue;
                        }
                        RequireCrlf("the last line of the body");
                        IsComplete = true;
                        return i;
                    }
                    if (b is (byte)' ' or (byte)'\t')
                    {
                        throw Malformed("obsolete line folding in the trailer section.");
                    }
                    _state = ChunkState.TrailerName;
                    continue;
                case ChunkState.TrailerName:
                    {
                        // A trailer field is a header field: a token, a colon, a value (RFC 9112 7.1.2).
                        var rest = data[i..];
                        var take = 0;
                        while (take < rest.Length && HttpHeadParser.IsTokenChar(rest[take]))
                        {
                            take++;
                        }
                        CountTrailerBytes(take);
                        _trailerNameLength += take;
                        i += take;
                        if (take == rest.Length)
                        {
                            continue;
                        }
                        if (rest[take] != (byte)':')
                        {
                            throw Malformed("invalid character in a trailer field name.");
                        }
                        if (_trailerNameLength == 0)
                        {
                            throw Malformed("empty trailer field name.");
                        }
                        CountTrailerBytes(1);
                        i++;
                        _state = ChunkState.TrailerValue;
                        continue;
                    }
                case ChunkState.TrailerValue:
                    {
                        // As for extensions: count up to the first CR, LF or forbidden byte, then judge that byte.
                        var rest = data[i..];
                        var stop = rest.IndexOfAny(_strict ? StrictTrailerStops : LenientTrailerStops);
                        CountTrailerBytes(stop < 0 ? rest.Length : stop);
                        if (stop < 0)
                        {
                            i = data.Length;
                            continue;
                        }
                        i += stop + 1;
                        if (rest[stop] == (byte)'\r')
                        {
                            CountTrailerBytes(1);
                            _state = ChunkState.TrailerLf;
                        }
                        else if (rest[stop] == (byte)'\n')
                        {
                            CountTrailerBytes(1);
                            RequireCrlf("a trailer line");
                            StartTrailerLine();
                        }
                        else
                        {
                            throw Malformed("control character in a trailer field value.");
                        }
                        continue;
                    }
                case ChunkState.TrailerLf:
                    if (b != (byte)'\n')
                    {
                        throw Malformed("CR without LF in the trailer section.");
                    }
                    CountTrailerBytes(1);
                    i++;
                    StartTrailerLine();
                    continue;
                case ChunkState.FinalLf:
                    if (b != (byte)'\n')
                    {
                        throw Malformed("CR without LF at the end of the body.");
                    }
                    i++;
                    IsComplete = true;
                    return i;
            }
        }
        return i;
    }

    private static HttpParseException Malformed(string what) => new("Malformed chunked body: " + what);

    /// <summary>A line of chunk framing ended in a bare LF: an error in a request, accepted in a response.</summary>
    private void RequireCrlf(string where)
    {
        if (_strict)
        {
            throw Malformed($"{where} ends in a bare LF instead of CRLF.");
        }
    }

    /// <summary>Counts chunk-size line bytes (size digits and extensions) against <see cref="MaxChunkLineLength"/>.</summary>
    private void CountLineBytes(int count)
    {
        _lineLength += count;
        if (_lineLength > MaxChunkLineLength)
        {
            throw Malformed($"a chunk-size line exceeds {MaxChunkLineLength} bytes.");
        }
    }

    private void EndSizeLine()
    {
        _lineLength = 0;
        _sizeHasDigit = false;
        if (_remaining == 0)
        {
            StartTrailerLine();
        }
        else
        {
            _state = ChunkState.Data;
        }
    }

    private void StartTrailerLine()
    {
        _trailerNameLength = 0;
        _state = ChunkState.TrailerLineStart;
    }

    /// <summary>Counts trailer section bytes (line ends included) against the head limit, the same for any split.</summary>
    private void CountTrailerBytes(int count)
    {
        _trailerLength += count;
        if (_trailerLength > HttpHeadParser.MaxHeadLength)
        {
            throw Malformed($"the trailer section exceeds {HttpHeadParser.MaxHeadLength / 1024} KiB.");
        }
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
