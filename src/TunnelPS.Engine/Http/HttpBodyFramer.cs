namespace TunnelPS.Engine.Http;

/// <summary>
/// Walks the body of one HTTP/1.x message across any number of reads, telling the caller how many of the bytes in hand
/// belong to the body so it can forward exactly the body and parse the next head from the rest. Works with arbitrary
/// splits (one byte at a time included) and copies nothing; decoded data can be observed through an
/// <see cref="IHttpBodySink"/>. Not thread-safe: one framer per message, used by one reader.
/// </summary>
public sealed class HttpBodyFramer
{
    /// <summary>The longest chunk-size line (size plus extensions) or trailer line accepted.</summary>
    public const int MaxChunkLineLength = 16 * 1024;

    private ChunkState _state;
    private long _remaining;
    private int _lineLength;
    private int _trailerLength;
    private bool _sizeHasDigit;

    private HttpBodyFramer(HttpBodyKind kind, long contentLength)
    {
        Kind = kind;
        ContentLength = contentLength;
        _remaining = Math.Max(0, contentLength);
        IsComplete = kind == HttpBodyKind.None || (kind == HttpBodyKind.ContentLength && contentLength == 0);
        _state = ChunkState.Size;
    }

    private enum ChunkState
    {
        Size,
        Extension,
        SizeLf,
        Data,
        DataCr,
        DataLf,
        TrailerLineStart,
        TrailerLine,
        TrailerLf,
        FinalLf,
    }

    /// <summary>How the body is delimited.</summary>
    public HttpBodyKind Kind { get; }

    /// <summary>The declared Content-Length, or -1.</summary>
    public long ContentLength { get; }

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
        var framing = HttpFraming.Analyze(head.Headers, isRequest: true, head.IsHttp11);
        if (framing.IsChunked)
        {
            return new HttpBodyFramer(HttpBodyKind.Chunked, -1);
        }
        return framing.ContentLength > 0
            ? new HttpBodyFramer(HttpBodyKind.ContentLength, framing.ContentLength)
            : new HttpBodyFramer(HttpBodyKind.None, framing.ContentLength);
    }

    /// <summary>
    /// The framer for a response body. No body for a response to HEAD, 1xx (101 included: the caller switches to raw
    /// bytes), 204, 304 and a 2xx to CONNECT; otherwise chunked, Content-Length, or until the connection closes.
    /// </summary>
    /// <exception cref="HttpParseException">The framing headers are invalid.</exception>
    public static HttpBodyFramer ForResponse(HttpResponseHead head, string requestMethod)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(requestMethod);
        var status = head.StatusCode;
        if (status < 200 || status == 204 || status == 304
            || string.Equals(requestMethod, "HEAD", StringComparison.OrdinalIgnoreCase)
            || (status < 300 && string.Equals(requestMethod, "CONNECT", StringComparison.OrdinalIgnoreCase)))
        {
            return new HttpBodyFramer(HttpBodyKind.None, -1);
        }
        var framing = HttpFraming.Analyze(head.Headers, isRequest: false, head.IsHttp11);
        if (framing.HasTransferEncoding)
        {
            return framing.IsChunked ? new HttpBodyFramer(HttpBodyKind.Chunked, -1) : new HttpBodyFramer(HttpBodyKind.UntilClose, -1);
        }
        if (framing.ContentLength >= 0)
        {
            return new HttpBodyFramer(HttpBodyKind.ContentLength, framing.ContentLength);
        }
        return new HttpBodyFramer(HttpBodyKind.UntilClose, -1);
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
                                throw new HttpParseException("Malformed chunked body: the chunk size is too large.");
                            }
                            _remaining = (_remaining << 4) | (uint)digit;
                            _sizeHasDigit = true;
                            i++;
                            continue;
                        }
                        if (!_sizeHasDigit)
                        {
                            throw new HttpParseException("Malformed chunked body: a chunk size is not a hexadecimal number.");
                        }
                        if (b == (byte)'\r')
                        {
                            _state = ChunkState.SizeLf;
                        }
                        else if (b is (byte)';' or (byte)' ' or (byte)'\t')
                        {
                            _state = ChunkState.Extension;
                        }
                        else
                        {
                            throw new HttpParseException("Malformed chunked body: invalid character after a chunk size.");
                        }
                        i++;
                        continue;
                    }
                case ChunkState.Extension:
                    {
                        // Skip the extension up to CR; bare LF and control characters are rejected.
                        var rest = data[i..];
                        var stop = rest.IndexOfAny((byte)'\r', (byte)'\n');
                        var take = stop < 0 ? rest.Length : stop;
                        _lineLength += take;
                        if (_lineLength > MaxChunkLineLength)
                        {
                            throw new HttpParseException($"Malformed chunked body: a chunk extension exceeds {MaxChunkLineLength} bytes.");
                        }
                        if (rest[..take].IndexOfAnyInRange((byte)0, (byte)8) >= 0 || rest[..take].IndexOfAnyInRange((byte)10, (byte)31) >= 0)
                        {
                            throw new HttpParseException("Malformed chunked body: control character in a chunk extension.");
                        }
                        i += take;
                        if (stop >= 0)
                        {
                            if (rest[stop] == (byte)'\n')
                            {
                                throw new HttpParseException("Malformed chunked body: a chunk-size line ends in a bare LF.");
                            }
                            _state = ChunkState.SizeLf;
                            i++;
                        }
                        continue;
                    }
                case ChunkState.SizeLf:
                    if (b != (byte)'\n')
                    {
                        throw new HttpParseException("Malformed chunked body: CR without LF after a chunk size.");
                    }
                    i++;
                    _lineLength = 0;
                    _sizeHasDigit = false;
                    _state = _remaining == 0 ? ChunkState.TrailerLineStart : ChunkState.Data;
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
                    if (b != (byte)'\r')
                    {
                        throw new HttpParseException("Malformed chunked body: chunk data is longer than its size (no CRLF after it).");
                    }
                    i++;
                    _state = ChunkState.DataLf;
                    continue;
                case ChunkState.DataLf:
                    if (b != (byte)'\n')
                    {
                        throw new HttpParseException("Malformed chunked body: CR without LF after chunk data.");
                    }
                    i++;
                    _state = ChunkState.Size;
                    continue;
                case ChunkState.TrailerLineStart:
                    if (b == (byte)'\r')
                    {
                        i++;
                        _state = ChunkState.FinalLf;
                        continue;
                    }
                    if (b is (byte)'\n' or (byte)' ' or (byte)'\t' or (byte)':')
                    {
                        throw new HttpParseException("Malformed chunked body: invalid trailer line.");
                    }
                    _state = ChunkState.TrailerLine;
                    continue;
                case ChunkState.TrailerLine:
                    {
                        var rest = data[i..];
                        var stop = rest.IndexOfAny((byte)'\r', (byte)'\n');
                        var take = stop < 0 ? rest.Length : stop;
                        _trailerLength += take + 2;
                        if (_trailerLength > HttpHeadParser.MaxHeadLength)
                        {
                            throw new HttpParseException($"Malformed chunked body: the trailer section exceeds {HttpHeadParser.MaxHeadLength / 1024} KiB.");
                        }
                        i += take;
                        if (stop >= 0)
                        {
                            if (rest[stop] == (byte)'\n')
                            {
                                throw new HttpParseException("Malformed chunked body: a trailer line ends in a bare LF.");
                            }
                            _state = ChunkState.TrailerLf;
                            i++;
                        }
                        continue;
                    }
                case ChunkState.TrailerLf:
                    if (b != (byte)'\n')
                    {
                        throw new HttpParseException("Malformed chunked body: CR without LF in the trailer section.");
                    }
                    i++;
                    _state = ChunkState.TrailerLineStart;
                    continue;
                case ChunkState.FinalLf:
                    if (b != (byte)'\n')
                    {
                        throw new HttpParseException("Malformed chunked body: CR without LF at the end of the body.");
                    }
                    i++;
                    IsComplete = true;
                    return i;
            }
        }
        return i;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
