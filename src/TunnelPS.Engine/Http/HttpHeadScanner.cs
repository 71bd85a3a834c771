using System.Text;

namespace TunnelPS.Engine.Http;

/// <summary>
/// Finds in a head's bytes only what framing and connection handling need (<see cref="ScannedHead"/>: status, version,
/// Content-Length, Transfer-Encoding, the Connection tokens, a request's method), without making strings. It runs the
/// parser's own validation in place (<c>HttpHeadParser.TryScanResponseHead</c> and <c>TryScanRequestHead</c>, which
/// <see cref="HttpHeadParser.TryParseResponseHead"/> and <see cref="HttpHeadParser.TryParseRequestHead"/> build on), so
/// it accepts, rejects (with the parser's exception) and waits for more bytes exactly where the parser does; the fuzz
/// targets request-framing and response-framing check that what it reads matches the parsed head.
/// </summary>
internal static class HttpHeadScanner
{
    /// <summary>
    /// Scans a response head at the start of <paramref name="data"/>. Returns false when more bytes are needed; on
    /// success <paramref name="headLength"/> is the number of bytes the head occupies.
    /// </summary>
    /// <exception cref="HttpParseException">The bytes are not a valid response head (as for the parser).</exception>
    public static bool TryScanResponse(ReadOnlySpan<byte> data, out ScannedHead head, out int headLength)
    {
        var connection = default(ConnectionFields);
        if (!HttpHeadParser.TryScanResponseHead(data, ref connection, out var line, out headLength, out var framing))
        {
            head = default;
            return false;
        }
        head = new ScannedHead
        {
            StatusCode = line.StatusCode,
            IsHttp11 = line.IsHttp11,
            ContentLength = framing.ContentLength,
            HasTransferEncoding = framing.HasTransferEncoding,
            IsChunked = framing.IsChunked,
            ConnectionClose = connection.Close,
            ConnectionKeepAlive = connection.KeepAlive,
            ConnectionUpgrade = connection.Upgrade,
            HasUpgrade = connection.HasUpgrade,
        };
        return true;
    }

    /// <summary>
    /// Scans a request head at the start of <paramref name="data"/> (leading empty lines skipped, as the parser does).
    /// Returns false when more bytes are needed; on success <paramref name="headLength"/> is the number of bytes the
    /// head occupies, leading empty lines included.
    /// </summary>
    /// <exception cref="HttpParseException">The bytes are not a valid request head (as for the parser).</exception>
    public static bool TryScanRequest(ReadOnlySpan<byte> data, out ScannedHead head, out int headLength)
    {
        var connection = default(ConnectionFields);
        if (!HttpHeadParser.TryScanRequestHead(data, ref connection, out var line, out headLength, out var framing))
        {
            head = default;
            return false;
        }
        var method = data.Slice(line.MethodStart, line.MethodLength);
        var isConnect = method.SequenceEqual("CONNECT"u8);
        head = new ScannedHead
        {
            IsHttp11 = line.IsHttp11,
            ContentLength = framing.ContentLength,
            HasTransferEncoding = framing.HasTransferEncoding,
            IsChunked = framing.IsChunked,
            ConnectionClose = connection.Close,
            ConnectionKeepAlive = connection.KeepAlive,
            ConnectionUpgrade = connection.Upgrade,
            HasUpgrade = connection.HasUpgrade,
            MethodStart = line.MethodStart,
            MethodLength = line.MethodLength,
            IsHeadMethod = Ascii.EqualsIgnoreCase(method, "HEAD"u8),
            IsConnectMethod = isConnect || Ascii.EqualsIgnoreCase(method, "CONNECT"u8),
            IsConnect = isConnect,
        };
        return true;
    }

    /// <summary>The Connection tokens (close, keep-alive, upgrade, in any case, in any Connection field) and whether there is an Upgrade field.</summary>
    private struct ConnectionFields : IHeaderVisitor
    {
        public bool Close;
        public bool KeepAlive;
        public bool Upgrade;
        public bool HasUpgrade;

        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, int lineStart, int lineEnd)
        {
            if (name.Length == 7 && Ascii.EqualsIgnoreCase(name, "Upgrade"u8))
            {
                HasUpgrade = true;
                return;
            }
            if (name.Length != 10 || !Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                return;
            }
            while (true)
            {
                var comma = value.IndexOf((byte)',');
                var item = (comma < 0 ? value : value[..comma]).Trim(" \t"u8);
                if (Ascii.EqualsIgnoreCase(item, "close"u8))
                {
                    Close = true;
                }
                else if (Ascii.EqualsIgnoreCase(item, "keep-alive"u8))
                {
                    KeepAlive = true;
                }
                else if (Ascii.EqualsIgnoreCase(item, "upgrade"u8))
                {
                    Upgrade = true;
                }
                if (comma < 0)
                {
                    return;
                }
                value = value[(comma + 1)..];
            }
        }
    }
}
