using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace TunnelPS.Engine.Http;

/// <summary>
/// Parses HTTP/1.x request and response heads from the bytes in hand, without copying the stream.
/// <para>
/// Requests are parsed strictly, as a proxy must to prevent request smuggling: lines end in CRLF (a bare LF is
/// rejected, because the server forwards a re-serialised head and a backend that splits lines differently must never
/// see a different message), obsolete line folding, whitespace or other non-token bytes in a header name, control
/// characters in values, more than one Host, conflicting Content-Length values, Transfer-Encoding with Content-Length,
/// and a Transfer-Encoding that does not end in chunked are all rejected with 400. Empty lines before the request
/// line are skipped (RFC 9112 2.2). Responses come from the local service and are only observed, so a bare LF is
/// accepted there (RFC 9112 2.2 allows it) and header values may hold control characters other than CR, LF and NUL.
/// </para>
/// </summary>
internal static partial class HttpHeadParser
{
    /// <summary>The largest head accepted, start line and empty line included: 64 KiB. A longer head is rejected with 431.</summary>
    public const int MaxHeadLength = 64 * 1024;

    /// <summary>The most header fields accepted in one head.</summary>
    public const int MaxHeaderCount = 256;

    private static readonly string[] KnownMethods = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE"];

    private static readonly string[] KnownHeaderNames =
    [
        "Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Connection", "Content-Length",
        "Content-Type", "Transfer-Encoding", "Cookie", "Set-Cookie", "Authorization", "Cache-Control", "Date", "Server",
        "Content-Encoding", "Upgrade", "Referer", "Origin", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
        "Keep-Alive", "Expect", "Last-Modified", "ETag", "Location", "Vary", "If-None-Match", "If-Modified-Since",
        "Pragma", "Expires", "Accept-Ranges", "Sec-WebSocket-Key", "Sec-WebSocket-Accept", "Sec-WebSocket-Version",
        "content-length", "content-type", "host", "user-agent", "accept", "connection", "date", "server",
    ];

    private static readonly byte[][] KnownHeaderNameBytes = Array.ConvertAll(KnownHeaderNames, Encoding.ASCII.GetBytes);

    /// <summary>
    /// Parses a request head from the start of <paramref name="data"/>. Returns false when more bytes are needed.
    /// On success <paramref name="headLength"/> is the number of bytes the head occupies (leading empty lines included);
    /// the body, if any, starts right after it.
    /// </summary>
    /// <exception cref="HttpParseException">The bytes are not a valid request head, or the head exceeds <see cref="MaxHeadLength"/>.</exception>
    public static bool TryParseRequestHead(ReadOnlySpan<byte> data, [NotNullWhen(true)] out HttpRequestHead? head, out int headLength)
    {
        head = null;
        var builder = new HeaderListBuilder(new HttpHeaderList());
        if (!TryScanRequestHead(data, ref builder, out var line, out headLength))
        {
            return false;
        }
        head = new HttpRequestHead(
            Intern(data.Slice(line.MethodStart, line.MethodLength), KnownMethods),
            Encoding.Latin1.GetString(data.Slice(line.TargetStart, line.TargetLength)),
            line.IsHttp11 ? "HTTP/1.1" : "HTTP/1.0",
            builder.Headers);
        return true;
    }

    /// <summary>
    /// Validates a request head in place, exactly as <see cref="TryParseRequestHead"/> does, without making strings:
    /// the request line comes back as offsets into <paramref name="data"/>, each field goes to <paramref name="visitor"/>
    /// (with offsets relative to <see cref="RequestLine.HeadersStart"/>), and the framing headers are checked. Returns
    /// false when more bytes are needed.
    /// </summary>
    /// <exception cref="HttpParseException">The bytes are not a valid request head, or the head exceeds <see cref="MaxHeadLength"/>.</exception>
    internal static bool TryScanRequestHead<TVisitor>(ReadOnlySpan<byte> data, ref TVisitor visitor, out RequestLine line, out int headLength)
        where TVisitor : struct, IHeaderVisitor => TryScanRequestHead(data, ref visitor, out line, out headLength, out _);

    /// <inheritdoc cref="TryScanRequestHead{TVisitor}(ReadOnlySpan{byte}, ref TVisitor, out RequestLine, out int)"/>
    internal static bool TryScanRequestHead<TVisitor>(ReadOnlySpan<byte> data, ref TVisitor visitor, out RequestLine line, out int headLength, out HttpFraming framing)
        where TVisitor : struct, IHeaderVisitor
    {
        line = default;
        framing = default;
        headLength = FindHeadEnd(data, strict: true, isRequest: true, out var start);
        if (headLength < 0)
        {
            return false;
        }
        var block = data[start..headLength];
        var firstLf = block.IndexOf((byte)'\n');
        line = ScanRequestLine(TrimCr(block[..firstLf]), start);
        line.HeadersStart = start + firstLf + 1;
        var checker = new RequestFieldChecker<TVisitor>(visitor);
        ScanHeaderLines(block[(firstLf + 1)..], strict: true, ref checker);
        visitor = checker.Inner;
        framing = checker.Framing.Finish(line.IsHttp11);
        return true;
    }

    /// <summary>Counts Host fields and follows the framing headers while passing every field on.</summary>
    private struct RequestFieldChecker<TVisitor>(TVisitor inner) : IHeaderVisitor
        where TVisitor : struct, IHeaderVisitor
    {
        public TVisitor Inner = inner;
        public HttpFraming.Accumulator Framing = new(isRequest: true);
        private int _hosts;

        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, int lineStart, int lineEnd)
        {
            if (Ascii.EqualsIgnoreCase(name, "Host"u8) && ++_hosts > 1)
            {
                throw new HttpParseException("The request carries more than one Host header.");
            }
            if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                Framing.AddContentLength(Latin1Chars(value, stackalloc char[Math.Min(value.Length, 256)]));
            }
            else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                Framing.AddTransferEncoding(Latin1Chars(value, stackalloc char[Math.Min(value.Length, 256)]));
            }
            Inner.OnHeader(name, value, lineStart, lineEnd);
        }

        private static ReadOnlySpan<char> Latin1Chars(ReadOnlySpan<byte> value, Span<char> scratch) =>
            value.Length <= scratch.Length
                ? scratch[..Encoding.Latin1.GetChars(value, scratch)]
                : Encoding.Latin1.GetString(value);
    }

    /// <summary>
    /// Parses a response head from the start of <paramref name="data"/>. Returns false when more bytes are needed.
    /// </summary>
    /// <exception cref="HttpParseException">The bytes are not a valid response head, or the head exceeds <see cref="MaxHeadLength"/>.</exception>
    public static bool TryParseResponseHead(ReadOnlySpan<byte> data, [NotNullWhen(true)] out HttpResponseHead? head, out int headLength)
    {
        head = null;
        var builder = new HeaderListBuilder(new HttpHeaderList());
        if (!TryScanResponseHead(data, ref builder, out var line, out headLength, out _))
        {
            return false;
        }
        var reason = data.Slice(line.ReasonStart, line.ReasonLength);
        head = new HttpResponseHead(
            line.IsHttp11 ? "HTTP/1.1" : "HTTP/1.0",
            line.StatusCode,
            reason.IsEmpty ? string.Empty : reason.SequenceEqual("OK"u8) ? "OK" : Encoding.Latin1.GetString(reason),
            builder.Headers);
        return true;
    }

    /// <summary>
    /// Validates a response head in place, exactly as <see cref="TryParseResponseHead"/> does, without making strings:
    /// the status line comes back as a code and offsets into <paramref name="data"/>, each field goes to
    /// <paramref name="visitor"/> (with offsets relative to <see cref="StatusLine.HeadersStart"/>), and the framing
    /// headers are read (a framing error is reported after every line has been checked, as the parser always has).
    /// Returns false when more bytes are needed.
    /// </summary>
    /// <exception cref="HttpParseException">The bytes are not a valid response head, or the head exceeds <see cref="MaxHeadLength"/>.</exception>
    internal static bool TryScanResponseHead<TVisitor>(ReadOnlySpan<byte> data, ref TVisitor visitor, out StatusLine line, out int headLength, out HttpFraming framing)
        where TVisitor : struct, IHeaderVisitor
    {
        line = default;
        framing = default;
        headLength = FindHeadEnd(data, strict: false, isRequest: false, out var start);
        if (headLength < 0)
        {
            return false;
        }
        var block = data[start..headLength];
        var firstLf = block.IndexOf((byte)'\n');
        line = ScanStatusLine(TrimCr(block[..firstLf]), start);
        line.HeadersStart = start + firstLf + 1;
        var checker = new ResponseFieldChecker<TVisitor>(visitor);
        ScanHeaderLines(block[(firstLf + 1)..], strict: false, ref checker);
        visitor = checker.Inner;
        if (checker.FramingError is { } error)
        {
            throw error;
        }
        framing = checker.Framing.Finish(line.IsHttp11);
        return true;
    }

    /// <summary>Follows a response's framing headers while passing every field on; the first framing error waits for the end.</summary>
    private struct ResponseFieldChecker<TVisitor>(TVisitor inner) : IHeaderVisitor
        where TVisitor : struct, IHeaderVisitor
    {
        public TVisitor Inner = inner;
        public HttpFraming.Accumulator Framing = new(isRequest: false);
        public HttpParseException? FramingError;

        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, int lineStart, int lineEnd)
        {
            var isContentLength = Ascii.EqualsIgnoreCase(name, "Content-Length"u8);
            if (FramingError is null && (isContentLength || Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8)))
            {
                try
                {
                    var chars = Latin1Chars(value, stackalloc char[Math.Min(value.Length, 256)]);
                    if (isContentLength)
                    {
                        Framing.AddContentLength(chars);
                    }
                    else
                    {
                        Framing.AddTransferEncoding(chars);
                    }
                }
                catch (HttpParseException ex)
                {
                    FramingError = ex;
                }
            }
            Inner.OnHeader(name, value, lineStart, lineEnd);
        }

        private static ReadOnlySpan<char> Latin1Chars(ReadOnlySpan<byte> value, Span<char> scratch) =>
            value.Length <= scratch.Length
                ? scratch[..Encoding.Latin1.GetChars(value, scratch)]
                : Encoding.Latin1.GetString(value);
    }

    /// <summary>True for a byte allowed in a token (RFC 9110 5.6.2: header names, methods).</summary>
    public static bool IsTokenChar(byte c) => c switch
    {
        >= (byte)'a' and <= (byte)'z' => true,
        >= (byte)'A' and <= (byte)'Z' => true,
        >= (byte)'0' and <= (byte)'9' => true,
        (byte)'!' or (byte)'#' or (byte)'$' or (byte)'%' or (byte)'&' or (byte)'\'' or (byte)'*' or (byte)'+' or (byte)'-'
            or (byte)'.' or (byte)'^' or (byte)'_' or (byte)'`' or (byte)'|' or (byte)'~' => true,
        _ => false,
    };
}
