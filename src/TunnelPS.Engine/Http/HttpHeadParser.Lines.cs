using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace TunnelPS.Engine.Http;

/// <summary>The line scanners of <see cref="HttpHeadParser"/>: where a head ends, the start lines, the header lines, interned names.</summary>
internal static partial class HttpHeadParser
{
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

    /// <summary>Validates a request line; <paramref name="offset"/> is where it starts in the data (for the offsets returned).</summary>
    private static RequestLine ScanRequestLine(ReadOnlySpan<byte> line, int offset)
    {
        var sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0)
        {
            throw MalformedRequestLine(line, "no method");
        }
        foreach (var b in line[..sp1])
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
        foreach (var b in rest[..sp2])
        {
            if (b <= 0x20 || b == 0x7F)
            {
                throw MalformedRequestLine(line, "invalid character in the request target");
            }
        }
        var versionBytes = rest[(sp2 + 1)..];
        bool isHttp11;
        if (versionBytes.SequenceEqual("HTTP/1.1"u8))
        {
            isHttp11 = true;
        }
        else if (versionBytes.SequenceEqual("HTTP/1.0"u8))
        {
            isHttp11 = false;
        }
        else
        {
            throw MalformedRequestLine(line, "unsupported or malformed HTTP version");
        }
        return new RequestLine
        {
            LineStart = offset,
            MethodStart = offset,
            MethodLength = sp1,
            TargetStart = offset + sp1 + 1,
            TargetLength = sp2,
            IsHttp11 = isHttp11,
        };
    }

    /// <summary>Interns a known method name ("GET", "POST", …); other names become a new string.</summary>
    internal static string MethodName(ReadOnlySpan<byte> bytes) => Intern(bytes, KnownMethods);

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

    /// <summary>
    /// Validates a status line, HTTP-version SP 3DIGIT [SP reason-phrase] (a missing SP after the code is tolerated);
    /// <paramref name="offset"/> is where it starts in the data (for the reason's offset).
    /// </summary>
    private static StatusLine ScanStatusLine(ReadOnlySpan<byte> line, int offset)
    {
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || (line[7] != (byte)'0' && line[7] != (byte)'1') || line[8] != (byte)' ')
        {
            throw new HttpParseException("Malformed status line: expected 'HTTP/1.x NNN reason'.");
        }
        var code = line.Slice(9, 3);
        if (!IsDigit(code[0]) || !IsDigit(code[1]) || !IsDigit(code[2]) || code[0] == (byte)'0')
        {
            throw new HttpParseException("Malformed status line: the status code is not three digits.");
        }
        var status = new StatusLine
        {
            StatusCode = ((code[0] - '0') * 100) + ((code[1] - '0') * 10) + (code[2] - '0'),
            IsHttp11 = line[7] == (byte)'1',
            ReasonStart = offset + Math.Min(line.Length, 13),
        };
        if (line.Length == 12)
        {
            return status;
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
        status.ReasonLength = reasonBytes.Length;
        return status;
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    /// <summary>
    /// Validates the header lines of a head (from after the start line through the empty line) and hands each field to
    /// <paramref name="visitor"/> as spans of <paramref name="block"/>, with its line's offsets in the block; no copy.
    /// </summary>
    internal static void ScanHeaderLines<TVisitor>(ReadOnlySpan<byte> block, bool strict, ref TVisitor visitor)
        where TVisitor : struct, IHeaderVisitor
    {
        var count = 0;
        var offset = 0;
        while (true)
        {
            var lf = block[offset..].IndexOf((byte)'\n');
            var lineStart = offset;
            var line = TrimCr(block.Slice(offset, lf));
            offset += lf + 1;
            if (line.IsEmpty)
            {
                return;
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
            if (count == MaxHeaderCount)
            {
                throw new HttpParseException($"The head has more than {MaxHeaderCount} header fields.", strict ? 431 : 502);
            }
            count++;
            visitor.OnHeader(nameBytes, valueBytes, lineStart, offset);
        }
    }

    /// <summary>Builds the string form of the fields (names interned where known).</summary>
    private struct HeaderListBuilder(HttpHeaderList headers) : IHeaderVisitor
    {
        public readonly HttpHeaderList Headers => headers;

        public readonly void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, int lineStart, int lineEnd) =>
            headers.AddUnchecked(InternHeaderName(name), value.IsEmpty ? string.Empty : Encoding.Latin1.GetString(value));
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
