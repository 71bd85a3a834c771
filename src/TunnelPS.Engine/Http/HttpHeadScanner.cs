using System.Buffers;
using System.Text;

namespace TunnelPS.Engine.Http;

/// <summary>What the bytes in hand hold: not yet a whole head, a whole head, or bytes that are not a valid head.</summary>
internal enum HeadScanOutcome
{
    Incomplete,
    Complete,
    Invalid,
}

/// <summary>
/// Finds in a head's bytes only what framing needs (status, version, Content-Length, Transfer-Encoding, the
/// Connection tokens, a request's method), without building strings. It accepts and rejects exactly what
/// <see cref="HttpHeadParser"/> (with <see cref="HttpFraming.Analyze"/>) accepts and rejects, under the same rules:
/// strict for requests, lenient for responses (see the parser), the same 64 KiB and 256-field limits, the same early
/// rejection of a start line that cannot be HTTP. The fuzz targets request-framing and response-framing hold the two
/// to that on every input.
/// <para>
/// A rejected head is handed to the parser, which throws the <see cref="HttpParseException"/> callers expect (message
/// and status included), so the rare error path allocates and the common path does not.
/// </para>
/// </summary>
internal static class HttpHeadScanner
{
    private static readonly SearchValues<byte> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>Control characters but tab, and DEL: not allowed in a request's field values or a reason phrase.</summary>
    private static readonly SearchValues<byte> StrictValueStops =
        SearchValues.Create([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 127]);

    /// <summary>NUL and CR: not allowed in a response's field values (a line holds no LF).</summary>
    private static readonly SearchValues<byte> LenientValueStops = SearchValues.Create([0, (byte)'\r']);

    /// <summary>Control characters, space and DEL: not allowed in a request target.</summary>
    private static readonly SearchValues<byte> TargetStops =
        SearchValues.Create([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 127]);

    /// <summary>
    /// Scans a response head at the start of <paramref name="data"/>. Returns false when more bytes are needed; on
    /// success <paramref name="headLength"/> is the number of bytes the head occupies.
    /// </summary>
    /// <exception cref="HttpParseException">The bytes are not a valid response head (the parser's exception).</exception>
    public static bool TryScanResponse(ReadOnlySpan<byte> data, out ScannedHead head, out int headLength)
    {
        var outcome = ScanResponse(data, out head, out headLength);
        if (outcome != HeadScanOutcome.Invalid)
        {
            return outcome == HeadScanOutcome.Complete;
        }
        // The parser says why (it throws). Should it accept the bytes after all, its answer stands.
        if (!HttpHeadParser.TryParseResponseHead(data, out var parsed, out headLength))
        {
            return false;
        }
        head = FromParsed(parsed);
        return true;
    }

    /// <summary>
    /// Scans a request head at the start of <paramref name="data"/> (leading empty lines skipped, as the parser does).
    /// Returns false when more bytes are needed; on success <paramref name="headLength"/> is the number of bytes the
    /// head occupies, leading empty lines included.
    /// </summary>
    /// <exception cref="HttpParseException">The bytes are not a valid request head (the parser's exception).</exception>
    public static bool TryScanRequest(ReadOnlySpan<byte> data, out ScannedHead head, out int headLength)
    {
        var outcome = ScanRequest(data, out head, out headLength);
        if (outcome != HeadScanOutcome.Invalid)
        {
            return outcome == HeadScanOutcome.Complete;
        }
        if (!HttpHeadParser.TryParseRequestHead(data, out var parsed, out headLength))
        {
            return false;
        }
        head = FromParsed(parsed, data);
        return true;
    }

    /// <summary>Classifies the bytes as a response head, without throwing.</summary>
    public static HeadScanOutcome ScanResponse(ReadOnlySpan<byte> data, out ScannedHead head, out int headLength) =>
        Scan(data, isRequest: false, out head, out headLength);

    /// <summary>Classifies the bytes as a request head, without throwing.</summary>
    public static HeadScanOutcome ScanRequest(ReadOnlySpan<byte> data, out ScannedHead head, out int headLength) =>
        Scan(data, isRequest: true, out head, out headLength);

    /// <summary>
    /// Walks the lines as the parser's head finder does (the same limits and early rejections, so the same bytes are
    /// incomplete), checking each complete line as the parser would; a head is judged only once its empty line is in.
    /// </summary>
    private static HeadScanOutcome Scan(ReadOnlySpan<byte> data, bool isRequest, out ScannedHead head, out int headLength)
    {
        head = default;
        headLength = 0;
        var fields = new Fields { ContentLength = -1 };
        var pos = 0;
        var haveStartLine = false;
        var valid = true;
        while (true)
        {
            var lf = data[pos..].IndexOf((byte)'\n');
            if (lf < 0)
            {
                if (data.Length > HttpHeadParser.MaxHeadLength)
                {
                    return HeadScanOutcome.Invalid;
                }
                return !haveStartLine && data.Length > pos && !StartLinePrefixOk(data[pos..], isRequest)
                    ? HeadScanOutcome.Invalid
                    : HeadScanOutcome.Incomplete;
            }
            var newline = pos + lf;
            if (newline + 1 > HttpHeadParser.MaxHeadLength)
            {
                return HeadScanOutcome.Invalid;
            }
            var hasCr = newline > pos && data[newline - 1] == (byte)'\r';
            if (!hasCr && isRequest)
            {
                return HeadScanOutcome.Invalid;
            }
            var line = data[pos..(hasCr ? newline - 1 : newline)];
            if (line.IsEmpty)
            {
                if (haveStartLine)
                {
                    headLength = newline + 1;
                    return valid && fields.TryFinish(isRequest, out head) ? HeadScanOutcome.Complete : HeadScanOutcome.Invalid;
                }
                if (!isRequest)
                {
                    return HeadScanOutcome.Invalid;
                }
            }
            else if (!haveStartLine)
            {
                if (!StartLinePrefixOk(data[pos..newline], isRequest))
                {
                    return HeadScanOutcome.Invalid;
                }
                haveStartLine = true;
                valid = isRequest ? fields.RequestLine(line, pos) : fields.StatusLine(line);
            }
            else if (valid)
            {
                valid = fields.HeaderLine(line, isRequest);
            }
            pos = newline + 1;
        }
    }

    /// <summary>The parser's early check of a start line (complete or not): a method then a space, or "HTTP/1.".</summary>
    private static bool StartLinePrefixOk(ReadOnlySpan<byte> partial, bool isRequest)
    {
        if (!isRequest)
        {
            ReadOnlySpan<byte> prefix = "HTTP/1."u8;
            var m = Math.Min(prefix.Length, partial.Length);
            return partial[..m].SequenceEqual(prefix[..m]);
        }
        var n = Math.Min(partial.Length, 33);
        for (var i = 0; i < n; i++)
        {
            var b = partial[i];
            if (b == (byte)' ' && i > 0)
            {
                return true;
            }
            if (!HttpHeadParser.IsTokenChar(b) && !(b == (byte)'\r' && i == partial.Length - 1))
            {
                return false;
            }
        }
        return n < 33;
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    /// <summary>The next comma-separated item of a list value, trimmed of spaces and tabs (possibly empty).</summary>
    private static ReadOnlySpan<byte> NextItem(ref ReadOnlySpan<byte> list, out bool last)
    {
        var comma = list.IndexOf((byte)',');
        last = comma < 0;
        var item = last ? list : list[..comma];
        list = last ? default : list[(comma + 1)..];
        return item.Trim(" \t"u8);
    }

    private static ScannedHead FromParsed(HttpResponseHead parsed)
    {
        var framing = HttpFraming.Analyze(parsed.Headers, isRequest: false, parsed.IsHttp11);
        return new ScannedHead
        {
            StatusCode = parsed.StatusCode,
            IsHttp11 = parsed.IsHttp11,
            ContentLength = framing.ContentLength,
            HasTransferEncoding = framing.HasTransferEncoding,
            IsChunked = framing.IsChunked,
            ConnectionClose = parsed.Headers.ContainsToken("Connection", "close"),
            ConnectionKeepAlive = parsed.Headers.ContainsToken("Connection", "keep-alive"),
            ConnectionUpgrade = parsed.Headers.ContainsToken("Connection", "upgrade"),
            HasUpgrade = parsed.Headers.Contains("Upgrade"),
        };
    }

    private static ScannedHead FromParsed(HttpRequestHead parsed, ReadOnlySpan<byte> data)
    {
        var framing = HttpFraming.Analyze(parsed.Headers, isRequest: true, parsed.IsHttp11);
        var start = 0;
        while (data[start..].StartsWith("\r\n"u8))
        {
            start += 2;
        }
        return new ScannedHead
        {
            IsHttp11 = parsed.IsHttp11,
            ContentLength = framing.ContentLength,
            HasTransferEncoding = framing.HasTransferEncoding,
            IsChunked = framing.IsChunked,
            ConnectionClose = parsed.Headers.ContainsToken("Connection", "close"),
            ConnectionKeepAlive = parsed.Headers.ContainsToken("Connection", "keep-alive"),
            ConnectionUpgrade = parsed.Headers.ContainsToken("Connection", "upgrade"),
            HasUpgrade = parsed.Headers.Contains("Upgrade"),
            MethodStart = start,
            MethodLength = parsed.Method.Length,
            IsHeadMethod = string.Equals(parsed.Method, "HEAD", StringComparison.OrdinalIgnoreCase),
            IsConnectMethod = string.Equals(parsed.Method, "CONNECT", StringComparison.OrdinalIgnoreCase),
            IsConnect = parsed.IsConnect,
        };
    }

    /// <summary>What the lines of one head said so far.</summary>
    private struct Fields
    {
        public int StatusCode;
        public bool IsHttp11;
        public int MethodStart;
        public int MethodLength;
        public bool IsHeadMethod;
        public bool IsConnectMethod;
        public bool IsConnect;
        public int HeaderCount;
        public int HostCount;
        public long ContentLength;
        public bool HasTransferEncoding;
        public int ChunkedCount;
        public bool LastIsChunked;
        public bool ConnectionClose;
        public bool ConnectionKeepAlive;
        public bool ConnectionUpgrade;
        public bool HasUpgrade;

        /// <summary>HTTP-version SP 3DIGIT [SP reason-phrase], as the parser reads a status line.</summary>
        public bool StatusLine(ReadOnlySpan<byte> line)
        {
            if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || (line[7] != (byte)'0' && line[7] != (byte)'1') || line[8] != (byte)' ')
            {
                return false;
            }
            if (!IsDigit(line[9]) || !IsDigit(line[10]) || !IsDigit(line[11]) || line[9] == (byte)'0')
            {
                return false;
            }
            if (line.Length > 12 && (line[12] != (byte)' ' || line[13..].IndexOfAny(StrictValueStops) >= 0))
            {
                return false;
            }
            IsHttp11 = line[7] == (byte)'1';
            StatusCode = ((line[9] - '0') * 100) + ((line[10] - '0') * 10) + (line[11] - '0');
            return true;
        }

        /// <summary>method SP request-target SP HTTP/1.x, as the parser reads a request line.</summary>
        public bool RequestLine(ReadOnlySpan<byte> line, int offset)
        {
            var sp1 = line.IndexOf((byte)' ');
            if (sp1 <= 0 || line[..sp1].IndexOfAnyExcept(TokenChars) >= 0)
            {
                return false;
            }
            var rest = line[(sp1 + 1)..];
            var sp2 = rest.IndexOf((byte)' ');
            if (sp2 <= 0 || rest[..sp2].IndexOfAny(TargetStops) >= 0)
            {
                return false;
            }
            var version = rest[(sp2 + 1)..];
            if (version.SequenceEqual("HTTP/1.1"u8))
            {
                IsHttp11 = true;
            }
            else if (!version.SequenceEqual("HTTP/1.0"u8))
            {
                return false;
            }
            var method = line[..sp1];
            MethodStart = offset;
            MethodLength = sp1;
            IsHeadMethod = Ascii.EqualsIgnoreCase(method, "HEAD"u8);
            IsConnect = method.SequenceEqual("CONNECT"u8);
            IsConnectMethod = IsConnect || Ascii.EqualsIgnoreCase(method, "CONNECT"u8);
            return true;
        }

        /// <summary>One header line (not empty), as the parser reads it, noting the fields framing depends on.</summary>
        public bool HeaderLine(ReadOnlySpan<byte> line, bool strict)
        {
            if (line[0] is (byte)' ' or (byte)'\t')
            {
                return false;
            }
            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                return false;
            }
            var name = line[..colon];
            var value = line[(colon + 1)..];
            // The value bytes trimmed off are spaces and tabs, which neither check rejects: the whole rest is checked.
            if (name.IndexOfAnyExcept(TokenChars) >= 0 || value.IndexOfAny(strict ? StrictValueStops : LenientValueStops) >= 0)
            {
                return false;
            }
            if (++HeaderCount > HttpHeadParser.MaxHeaderCount)
            {
                return false;
            }
            value = value.Trim(" \t"u8);
            switch (name.Length)
            {
                case 4 when Ascii.EqualsIgnoreCase(name, "Host"u8):
                    HostCount++;
                    return true;
                case 7 when Ascii.EqualsIgnoreCase(name, "Upgrade"u8):
                    HasUpgrade = true;
                    return true;
                case 10 when Ascii.EqualsIgnoreCase(name, "Connection"u8):
                    ConnectionTokens(value);
                    return true;
                case 14 when Ascii.EqualsIgnoreCase(name, "Content-Length"u8):
                    return ContentLengthValue(value, strict);
                case 17 when Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8):
                    TransferCodings(value);
                    return true;
                default:
                    return true;
            }
        }

        /// <summary>The checks the parser makes once every line is in (Host count, request framing); the result.</summary>
        public readonly bool TryFinish(bool isRequest, out ScannedHead head)
        {
            head = default;
            if (isRequest)
            {
                if (HostCount > 1)
                {
                    return false;
                }
                if (HasTransferEncoding && (ContentLength >= 0 || !IsHttp11 || !LastIsChunked || ChunkedCount != 1))
                {
                    return false;
                }
            }
            head = new ScannedHead
            {
                StatusCode = StatusCode,
                IsHttp11 = IsHttp11,
                ContentLength = HasTransferEncoding ? -1 : ContentLength,
                HasTransferEncoding = HasTransferEncoding,
                IsChunked = HasTransferEncoding && LastIsChunked,
                ConnectionClose = ConnectionClose,
                ConnectionKeepAlive = ConnectionKeepAlive,
                ConnectionUpgrade = ConnectionUpgrade,
                HasUpgrade = HasUpgrade,
                MethodStart = MethodStart,
                MethodLength = MethodLength,
                IsHeadMethod = IsHeadMethod,
                IsConnectMethod = IsConnectMethod,
                IsConnect = IsConnect,
            };
            return true;
        }

        private void ConnectionTokens(ReadOnlySpan<byte> list)
        {
            var last = false;
            while (!last)
            {
                var item = NextItem(ref list, out last);
                if (Ascii.EqualsIgnoreCase(item, "close"u8))
                {
                    ConnectionClose = true;
                }
                else if (Ascii.EqualsIgnoreCase(item, "keep-alive"u8))
                {
                    ConnectionKeepAlive = true;
                }
                else if (Ascii.EqualsIgnoreCase(item, "upgrade"u8))
                {
                    ConnectionUpgrade = true;
                }
            }
        }

        /// <summary>
        /// A Content-Length value: a request allows one field holding one number; a response a list of numbers, all
        /// equal, in as many fields as it likes. Each number is 1 to 18 digits.
        /// </summary>
        private bool ContentLengthValue(ReadOnlySpan<byte> value, bool isRequest)
        {
            if (isRequest && (ContentLength >= 0 || value.Contains((byte)',')))
            {
                return false;
            }
            var last = false;
            while (!last)
            {
                var item = NextItem(ref value, out last);
                if (item.IsEmpty || item.Length > 18)
                {
                    return false;
                }
                long parsed = 0;
                foreach (var b in item)
                {
                    if (!IsDigit(b))
                    {
                        return false;
                    }
                    parsed = (parsed * 10) + (b - '0');
                }
                if (ContentLength >= 0 && ContentLength != parsed)
                {
                    return false;
                }
                ContentLength = parsed;
            }
            return true;
        }

        private void TransferCodings(ReadOnlySpan<byte> list)
        {
            HasTransferEncoding = true;
            var last = false;
            while (!last)
            {
                var item = NextItem(ref list, out last);
                if (!item.IsEmpty)
                {
                    LastIsChunked = Ascii.EqualsIgnoreCase(item, "chunked"u8);
                    if (LastIsChunked)
                    {
                        ChunkedCount++;
                    }
                }
            }
        }
    }
}
