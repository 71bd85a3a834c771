namespace TunnelPS.Engine.Http;

/// <summary>How a message's body is delimited, derived from Content-Length and Transfer-Encoding (RFC 9112 section 6).</summary>
internal readonly struct HttpFraming
{
    private HttpFraming(long contentLength, bool hasTransferEncoding, bool isChunked)
    {
        ContentLength = contentLength;
        HasTransferEncoding = hasTransferEncoding;
        IsChunked = isChunked;
    }

    /// <summary>The declared length, or -1 when there is no Content-Length (or Transfer-Encoding overrides it).</summary>
    public long ContentLength { get; }

    public bool HasTransferEncoding { get; }

    /// <summary>True when chunked is the final transfer coding.</summary>
    public bool IsChunked { get; }

    /// <summary>
    /// Reads the framing headers. Rejects, with <see cref="HttpParseException"/>: a Content-Length that is not a
    /// decimal number or has conflicting values; and in a request, Content-Length given more than once or as a list
    /// (even of equal values: RFC 9112 6.3 lets a recipient accept those, but a proxy that does so forwards a message
    /// that the backend may frame differently), Transfer-Encoding together with Content-Length, Transfer-Encoding in
    /// HTTP/1.0, or a Transfer-Encoding whose final coding is not a single chunked. A response may repeat one value.
    /// </summary>
    public static HttpFraming Analyze(HttpHeaderList headers, bool isRequest, bool isHttp11)
    {
        var accumulator = new Accumulator(isRequest);
        for (var i = 0; i < headers.Count; i++)
        {
            var header = headers[i];
            if (string.Equals(header.Key, "Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                accumulator.AddContentLength(header.Value);
            }
            else if (string.Equals(header.Key, "Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                accumulator.AddTransferEncoding(header.Value);
            }
        }
        return accumulator.Finish(isHttp11);
    }

    /// <summary>
    /// Reads framing headers one at a time (as a parser meets them, from strings or from bytes in place) with the rules
    /// of <see cref="Analyze"/>; <see cref="Finish"/> gives the framing or throws.
    /// </summary>
    internal struct Accumulator(bool isRequest)
    {
        private long _contentLength = -1;
        private bool _hasTe;
        private int _chunkedCount;
        private bool _lastIsChunked;

        public void AddContentLength(ReadOnlySpan<char> value)
        {
            if (isRequest && _contentLength >= 0)
            {
                throw new HttpParseException("The request carries more than one Content-Length header (a request smuggling pattern).");
            }
            if (isRequest && value.Contains(','))
            {
                throw new HttpParseException($"The request's Content-Length '{value}' is a list, not one number (a request smuggling pattern).");
            }
            _contentLength = ParseContentLength(value, _contentLength);
        }

        public void AddTransferEncoding(ReadOnlySpan<char> value)
        {
            _hasTe = true;
            var span = value;
            while (true)
            {
                var comma = span.IndexOf(',');
                var item = (comma < 0 ? span : span[..comma]).Trim(" \t");
                if (!item.IsEmpty)
                {
                    _lastIsChunked = item.Equals("chunked", StringComparison.OrdinalIgnoreCase);
                    if (_lastIsChunked)
                    {
                        _chunkedCount++;
                    }
                }
                if (comma < 0)
                {
                    break;
                }
                span = span[(comma + 1)..];
            }
        }

        public readonly HttpFraming Finish(bool isHttp11)
        {
            if (!_hasTe)
            {
                return new HttpFraming(_contentLength, false, false);
            }
            if (isRequest)
            {
                if (_contentLength >= 0)
                {
                    throw new HttpParseException("The request carries both Transfer-Encoding and Content-Length (a request smuggling pattern).");
                }
                if (!isHttp11)
                {
                    throw new HttpParseException("An HTTP/1.0 request carries Transfer-Encoding.");
                }
                if (!_lastIsChunked || _chunkedCount != 1)
                {
                    throw new HttpParseException("The request's Transfer-Encoding does not end in a single 'chunked' coding.");
                }
            }
            return new HttpFraming(-1, true, _lastIsChunked);
        }
    }

    private static long ParseContentLength(ReadOnlySpan<char> value, long previous)
    {
        var span = value;
        var current = previous;
        while (true)
        {
            var comma = span.IndexOf(',');
            var item = (comma < 0 ? span : span[..comma]).Trim(" \t");
            if (item.IsEmpty || item.Length > 18)
            {
                throw new HttpParseException($"Invalid Content-Length '{value}'.");
            }
            long parsed = 0;
            foreach (var c in item)
            {
                if (c is < '0' or > '9')
                {
                    throw new HttpParseException($"Invalid Content-Length '{value}'.");
                }
                parsed = (parsed * 10) + (c - '0');
            }
            if (current >= 0 && current != parsed)
            {
                throw new HttpParseException($"Conflicting Content-Length values ({current} and {parsed}).");
            }
            current = parsed;
            if (comma < 0)
            {
                return current;
            }
            span = span[(comma + 1)..];
        }
    }
}
