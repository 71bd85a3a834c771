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
public static class HttpHeadParser
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
        headLength = FindHeadEnd(data, strict: true, isRequest: true, out var start);
        if (headLength < 0)
        {
            return false;
        }
        var block = data[start..headLength];
        var firstLf = block.IndexOf((byte)'\n');
        var requestLine = TrimCr(block[..firstLf]);
        ParseRequestLine(requestLine, out var method, out var target, out var version);
        var headers = ParseHeaderLines(block[(firstLf + 1)..], strict: true);

        var hostCount = 0;
        for (var i = 0; i < headers.Count; i++)
        {
            if (string.Equals(headers[i].Key, "Host", StringComparison.OrdinalIgnoreCase))
            {
                hostCount++;
            }
        }
        if (hostCount > 1)
        {
            throw new HttpParseException("The request carries more than one Host header.");
        }
        var isHttp11 = version.Length == 8 && version[7] == '1';
        HttpFraming.Analyze(headers, isRequest: true, isHttp11);
        head = new HttpRequestHead(method, target, version, headers);
        return true;
    }

    /// <summary>
    /// Parses a response head from the start of <paramref name="data"/>. Returns false when more bytes are needed.
    /// </summary>
    /// <exception cref="HttpParseException">The bytes are not a valid response head, or the head exceeds <see cref="MaxHeadLength"/>.</exception>
    public static bool TryParseResponseHead(ReadOnlySpan<byte> data, [NotNullWhen(true)] out HttpResponseHead? head, out int headLength)
    {
        head = null;
        headLength = FindHeadEnd(data, strict: false, isRequest: false, out var start);
        if (headLength < 0)
        {
            return false;
        }
        var block = data[start..headLength];
        var firstLf = block.IndexOf((byte)'\n');
        var statusLine = TrimCr(block[..firstLf]);
        ParseStatusLine(statusLine, out var version, out var status, out var reason);
        var headers = ParseHeaderLines(block[(firstLf + 1)..], strict: false);
        HttpFraming.Analyze(headers, isRequest: false, isHttp11: version[7] == '1');
        head = new HttpResponseHead(version, status, reason, headers);
        return true;
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

    /// <summary>
    /// Finds the end of the head (the index just past the empty line), or -1 if it has not arrived yet.
    /// <paramref name="start"/> is where the start line begins (after skipped leading empty lines).
    /// </summary>
    private static int FindHeadEnd(ReadOnlySpan<byte> data, bool strict, bool isRequest, out int start)
    {
        start = 0;
        var pos = 0;
        var haveStartLine = false;
        while (true)
        {
            var lf = data[pos..].IndexOf((byte)'\n');
            if (lf < 0)
            {
                if (data.Length > MaxHeadLength)
                {
                    throw TooLarge(isRequest);
                }
                if (!haveStartLine && data.Length > pos)
                {
                    CheckStartLinePrefix(data[pos..], isRequest);
                }
                return -1;
            }
            var newline = pos + lf;
            if (newline + 1 > MaxHeadLength)
            {
                throw TooLarge(isRequest);
            }
            var hasCr = newline > pos && data[newline - 1] == (byte)'\r';
            if (!hasCr && strict)
            {
                throw new HttpParseException("Malformed head: a line ends in a bare LF instead of CRLF.");
            }
            var contentLength = newline - pos - (hasCr ? 1 : 0);
            if (contentLength == 0)
            {
                if (haveStartLine)
                {
                    return newline + 1;
                }
                if (!isRequest)
                {
                    throw new HttpParseException("Malformed status line: the response starts with an empty line.");
                }
                start = newline + 1;
            }
            else if (!haveStartLine)
            {
                CheckStartLinePrefix(data[pos..newline], isRequest);
                haveStartLine = true;
            }
            pos = newline + 1;
        }
    }

    /// <summary>Rejects bytes that cannot start a head early, so non-HTTP traffic is recognised without waiting for 64 KiB.</summary>
    private static void CheckStartLinePrefix(ReadOnlySpan<byte> partial, bool isRequest)
    {
        if (isRequest)
        {
            var n = Math.Min(partial.Length, 33);
            for (var i = 0; i < n; i++)
            {
                var b = partial[i];
                if (b == (byte)' ' && i > 0)
                {
                    return;
                }
                if (!IsTokenChar(b) && !(b == (byte)'\r' && i == partial.Length - 1))
                {
                    throw MalformedRequestLine(partial, "invalid character in the method");
                }
            }
            if (n == 33)
            {
                throw MalformedRequestLine(partial, "no method");
            }
            return;
        }
        ReadOnlySpan<byte> prefix = "HTTP/1."u8;
        var m = Math.Min(prefix.Length, partial.Length);
        if (!partial[..m].SequenceEqual(prefix[..m]))
        {
            throw new HttpParseException("Malformed status line: the response does not start with 'HTTP/1.'.");
        }
    }

    private static HttpParseException TooLarge(bool isRequest) => isRequest
        ? new HttpParseException($"Request head exceeds {MaxHeadLength / 1024} KiB.", 431)
        : new HttpParseException($"Response head exceeds {MaxHeadLength / 1024} KiB.", 502);

    private static ReadOnlySpan<byte> TrimCr(ReadOnlySpan<byte> line) =>
        !line.IsEmpty && line[^1] == (byte)'\r' ? line[..^1] : line;

    private static void ParseRequestLine(ReadOnlySpan<byte> line, out string method, out string target, out string version)
    {
        var sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0)
        {
            throw MalformedRequestLine(line, "no method");
        }
        var methodBytes = line[..sp1];
        foreach (var b in methodBytes)
        {
            if (!IsTokenChar(b))
            {
                throw MalformedRequestLine(line, "invalid character in the method");
            }
        }
        var rest = line[(sp1 + 1)..];
        var sp2 = rest.IndexOf((byte)' ');
        if (sp2 <= 0)
        {
            throw MalformedRequestLine(line, "no request target");
        }
        var targetBytes = rest[..sp2];
        foreach (var b in targetBytes)
        {
            if (b <= 0x20 || b == 0x7F)
            {
                throw MalformedRequestLine(line, "invalid character in the request target");
            }
        }
        var versionBytes = rest[(sp2 + 1)..];
        if (versionBytes.SequenceEqual("HTTP/1.1"u8))
        {
            version = "HTTP/1.1";
        }
        else if (versionBytes.SequenceEqual("HTTP/1.0"u8))
        {
            version = "HTTP/1.0";
        }
        else
        {
            throw MalformedRequestLine(line, "unsupported or malformed HTTP version");
        }
        method = Intern(methodBytes, KnownMethods);
        target = Encoding.Latin1.GetString(targetBytes);
    }

    private static HttpParseException MalformedRequestLine(ReadOnlySpan<byte> line, string why)
    {
        var shown = Encoding.Latin1.GetString(line[..Math.Min(line.Length, 80)]);
        var printable = new StringBuilder(shown.Length);
        foreach (var c in shown)
        {
            printable.Append(c is >= ' ' and < (char)127 ? c : '?');
        }
        return new HttpParseException($"Malformed request line ({why}): '{printable}'.");
    }

    private static void ParseStatusLine(ReadOnlySpan<byte> line, out string version, out int status, out string reason)
    {
        // HTTP-version SP 3DIGIT [SP reason-phrase]; a missing SP after the code is tolerated.
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || (line[7] != (byte)'0' && line[7] != (byte)'1') || line[8] != (byte)' ')
        {
            throw new HttpParseException("Malformed status line: expected 'HTTP/1.x NNN reason'.");
        }
        version = line[7] == (byte)'1' ? "HTTP/1.1" : "HTTP/1.0";
        var code = line.Slice(9, 3);
        if (!IsDigit(code[0]) || !IsDigit(code[1]) || !IsDigit(code[2]) || code[0] == (byte)'0')
        {
            throw new HttpParseException("Malformed status line: the status code is not three digits.");
        }
        status = ((code[0] - '0') * 100) + ((code[1] - '0') * 10) + (code[2] - '0');
        if (line.Length == 12)
        {
            reason = string.Empty;
            return;
        }
        if (line[12] != (byte)' ')
        {
            throw new HttpParseException("Malformed status line: the status code is not three digits.");
        }
        var reasonBytes = line[13..];
        foreach (var b in reasonBytes)
        {
            if ((b < 0x20 && b != (byte)'\t') || b == 0x7F)
            {
                throw new HttpParseException("Malformed status line: control character in the reason phrase.");
            }
        }
        reason = reasonBytes.IsEmpty ? string.Empty : reasonBytes.SequenceEqual("OK"u8) ? "OK" : Encoding.Latin1.GetString(reasonBytes);
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    private static HttpHeaderList ParseHeaderLines(ReadOnlySpan<byte> block, bool strict)
    {
        var headers = new HttpHeaderList();
        while (true)
        {
            var lf = block.IndexOf((byte)'\n');
            var line = TrimCr(block[..lf]);
            block = block[(lf + 1)..];
            if (line.IsEmpty)
            {
                return headers;
            }
            if (line[0] == (byte)' ' || line[0] == (byte)'\t')
            {
                throw new HttpParseException("Malformed header: obsolete line folding (a line starting with whitespace) is not accepted.");
            }
            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                throw new HttpParseException(colon == 0 ? "Malformed header: empty header name." : "Malformed header: a header line has no colon.");
            }
            var nameBytes = line[..colon];
            foreach (var b in nameBytes)
            {
                if (!IsTokenChar(b))
                {
                    throw new HttpParseException(b is (byte)' ' or (byte)'\t'
                        ? "Malformed header: whitespace in or after a header name."
                        : "Malformed header: invalid character in a header name.");
                }
            }
            var valueBytes = line[(colon + 1)..];
            var first = 0;
            while (first < valueBytes.Length && (valueBytes[first] == (byte)' ' || valueBytes[first] == (byte)'\t'))
            {
                first++;
            }
            var last = valueBytes.Length;
            while (last > first && (valueBytes[last - 1] == (byte)' ' || valueBytes[last - 1] == (byte)'\t'))
            {
                last--;
            }
            valueBytes = valueBytes[first..last];
            foreach (var b in valueBytes)
            {
                var bad = strict ? (b < 0x20 && b != (byte)'\t') || b == 0x7F : b is 0 or (byte)'\r' or (byte)'\n';
                if (bad)
                {
                    throw new HttpParseException($"Malformed header: control character in the value of '{Encoding.ASCII.GetString(nameBytes)}'.");
                }
            }
            if (headers.Count == MaxHeaderCount)
            {
                throw new HttpParseException($"The head has more than {MaxHeaderCount} header fields.", strict ? 431 : 502);
            }
            var name = InternHeaderName(nameBytes);
            var value = valueBytes.IsEmpty ? string.Empty : Encoding.Latin1.GetString(valueBytes);
            headers.AddUnchecked(name, value);
        }
    }

    private static string Intern(ReadOnlySpan<byte> bytes, string[] known)
    {
        foreach (var candidate in known)
        {
            if (candidate.Length == bytes.Length && Ascii.Equals(bytes, candidate))
            {
                return candidate;
            }
        }
        return Encoding.Latin1.GetString(bytes);
    }

    private static string InternHeaderName(ReadOnlySpan<byte> bytes)
    {
        var known = KnownHeaderNameBytes;
        for (var i = 0; i < known.Length; i++)
        {
            if (known[i].Length == bytes.Length && bytes.SequenceEqual(known[i]))
            {
                return KnownHeaderNames[i];
            }
        }
        return Encoding.Latin1.GetString(bytes);
    }
}
