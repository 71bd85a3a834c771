using System.Text;
using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Server;

/// <summary>
/// The current request of a public connection, read in place from the connection's buffer: validated as strictly as
/// <see cref="HttpHeadParser.TryParseRequestHead"/> (one scan), but kept as offsets rather than strings. It is
/// forwarded as the visitor sent it, line for line, except that the X-Forwarded-* fields are replaced, an absolute-form
/// target is put in origin form with its authority as Host (RFC 9112 3.2.2), and Host is rewritten where the tunnel
/// asks for it. One instance serves every request of a connection.
/// </summary>
internal sealed class ForwardedRequest
{
    private RequestLine _line;
    private Fields _fields;
    private int _originStart;
    private int _originLength;
    private int _authorityStart;
    private int _authorityLength;

    /// <summary>The head's length in the data it was scanned from (leading empty lines included).</summary>
    public int HeadLength { get; private set; }

    /// <summary>The method, interned when it is a known one.</summary>
    public string Method { get; private set; } = "";

    public HttpFraming Framing { get; private set; }

    public bool IsHttp11 => _line.IsHttp11;

    /// <summary>Whether the visitor's connection stays open after this request.</summary>
    public bool KeepAlive => !_fields.ConnectionClose && (_line.IsHttp11 || _fields.ConnectionKeepAlive);

    /// <summary>A CONNECT request (compared as the response tracker does, ignoring case).</summary>
    public bool IsConnect => string.Equals(Method, "CONNECT", StringComparison.OrdinalIgnoreCase);

    /// <summary>A request to switch protocols: an Upgrade field and "upgrade" in Connection.</summary>
    public bool IsUpgrade => _fields.HasUpgrade && _fields.ConnectionUpgrade;

    /// <summary>
    /// Scans a request head at the start of <paramref name="data"/>; false when more bytes are needed.
    /// </summary>
    /// <exception cref="HttpParseException">The bytes are not a valid request head.</exception>
    public bool TryScan(ReadOnlySpan<byte> data)
    {
        var fields = new Fields();
        if (!HttpHeadParser.TryScanRequestHead(data, ref fields, out var line, out var length, out var framing))
        {
            return false;
        }
        _fields = fields;
        _line = line;
        HeadLength = length;
        Framing = framing;
        Method = HttpHeadParser.MethodName(data.Slice(line.MethodStart, line.MethodLength));
        return true;
    }

    /// <summary>
    /// What the scan leaves to the server: a second Authorization field is refused (only one could be checked); the
    /// target must take one of its four forms (RFC 9112 3.2: origin form, an absolute http or https URL, host:port for
    /// CONNECT only, '*' for OPTIONS only); and Host, when sent, must be a host with an optional port (RFC 9110 7.2; see
    /// <see cref="HostAuthority"/>), so that what is forwarded as Host and X-Forwarded-Host names one host and nothing
    /// else. Finds the authority to route by. Returns why the request is refused, or null. Allocates nothing.
    /// </summary>
    public string? Check(ReadOnlySpan<byte> head)
    {
        IsAbsoluteForm = false;
        if (_fields.AuthorizationCount > 1)
        {
            return "The request carries more than one Authorization header.";
        }
        var target = head.Slice(_line.TargetStart, _line.TargetLength);
        var form = RequestTarget.Classify(target, out var absoluteAuthority, out var pathStart);
        var connect = Method == "CONNECT";
        if (form == RequestTargetForm.Invalid)
        {
            return target.IndexOf("://"u8) > 0 && !StartsWithIgnoreCase(target, "http://"u8) && !StartsWithIgnoreCase(target, "https://"u8)
                ? "The request target names a scheme other than http or https."
                : "The request target is not valid (RFC 9112 3.2): it must be a path that starts with '/', an absolute http or https URL with a valid host (and no user name), host:port for CONNECT, or '*' for OPTIONS.";
        }
        if (connect != (form == RequestTargetForm.Authority))
        {
            return connect
                ? "A CONNECT request's target must be host:port (RFC 9110 9.3.6)."
                : "A request target of the form host:port is only for CONNECT (RFC 9112 3.2.3).";
        }
        if (form == RequestTargetForm.Asterisk && Method != "OPTIONS")
        {
            return "The request target '*' is only for OPTIONS (RFC 9112 3.2.4).";
        }
        (_authorityStart, _authorityLength) = _fields.HostLineStart < 0 ? (0, 0) : ValueRange(head, _line.HeadersStart + _fields.HostLineStart, _line.HeadersStart + _fields.HostLineEnd);
        if (_authorityLength > 0 && !HostAuthority.IsValid(head.Slice(_authorityStart, _authorityLength)))
        {
            return "The Host header is not a valid host (RFC 9110 7.2): it must be a host name or an IP address in brackets, optionally followed by ':' and a port number from 1 to 65535, and nothing else.";
        }
        _originStart = _line.TargetStart;
        _originLength = _line.TargetLength;
        if (form != RequestTargetForm.Absolute)
        {
            return null;
        }
        (_authorityStart, _authorityLength) = (_line.TargetStart + absoluteAuthority.Start.Value, absoluteAuthority.End.Value - absoluteAuthority.Start.Value);
        var path = target[pathStart..];
        var fragment = path.IndexOf((byte)'#');
        _originStart = _line.TargetStart + pathStart;
        _originLength = fragment < 0 ? path.Length : fragment;
        IsAbsoluteForm = true;
        return null;
    }

    /// <summary>True when the target was in absolute form (set by <see cref="Check"/>).</summary>
    public bool IsAbsoluteForm { get; private set; }

    /// <summary>The name the request is addressed to, host[:port], as sent: the absolute-form authority, else Host (empty when neither).</summary>
    public ReadOnlySpan<byte> Authority(ReadOnlySpan<byte> head) => head.Slice(_authorityStart, _authorityLength);

    /// <summary>The Authorization value as sent, or empty.</summary>
    public ReadOnlySpan<byte> Authorization(ReadOnlySpan<byte> head)
    {
        if (_fields.AuthorizationLineStart < 0)
        {
            return default;
        }
        var (start, length) = ValueRange(head, _line.HeadersStart + _fields.AuthorizationLineStart, _line.HeadersStart + _fields.AuthorizationLineEnd);
        return head.Slice(start, length);
    }

    /// <summary>The most bytes <see cref="WriteForwarded"/> can write for this request.</summary>
    public int MaxForwardedLength(string? hostOverride, string clientIp) =>
        (HeadLength * 2) + (hostOverride?.Length ?? 0) + clientIp.Length + 128;

    /// <summary>
    /// Writes the head to send on: the request line (origin form for an absolute-form target), every field as it came
    /// but X-Forwarded-For/-Proto/-Host (and Host when it is replaced), then Host (when replaced), X-Forwarded-For (the
    /// visitor's chain with <paramref name="clientIp"/> added), X-Forwarded-Proto and X-Forwarded-Host. Returns the bytes written.
    /// </summary>
    public int WriteForwarded(ReadOnlySpan<byte> head, Span<byte> destination, string? hostOverride, string clientIp, string scheme)
    {
        var written = WriteRequestLine(head, destination);
        var replaceHost = hostOverride is not null || IsAbsoluteForm;
        Span<(int Start, int Length)> chain = stackalloc (int, int)[8];
        written += CopyFields(head, destination[written..], replaceHost, chain, out var forwardedFor);
        var authority = Authority(head);
        if (replaceHost)
        {
            written += Copy("Host: "u8, destination[written..]);
            written += hostOverride is null ? Copy(authority, destination[written..]) : Encoding.Latin1.GetBytes(hostOverride, destination[written..]);
            written += Copy("\r\n"u8, destination[written..]);
        }
        written += Copy("X-Forwarded-For: "u8, destination[written..]);
        for (var i = 0; i < forwardedFor; i++)
        {
            written += Copy(head.Slice(chain[i].Start, chain[i].Length), destination[written..]);
            written += Copy(", "u8, destination[written..]);
        }
        written += Encoding.ASCII.GetBytes(clientIp, destination[written..]);
        written += Copy("\r\nX-Forwarded-Proto: "u8, destination[written..]);
        written += Encoding.ASCII.GetBytes(scheme, destination[written..]);
        written += Copy("\r\n"u8, destination[written..]);
        if (!authority.IsEmpty)
        {
            written += Copy("X-Forwarded-Host: "u8, destination[written..]);
            written += Copy(authority, destination[written..]);
            written += Copy("\r\n"u8, destination[written..]);
        }
        written += Copy("\r\n"u8, destination[written..]);
        return written;
    }

    /// <summary>The request line: as it came, or in origin form for an absolute-form target.</summary>
    private int WriteRequestLine(ReadOnlySpan<byte> head, Span<byte> destination)
    {
        if (!IsAbsoluteForm)
        {
            return Copy(head[_line.LineStart.._line.HeadersStart], destination);
        }
        var written = Copy(head.Slice(_line.MethodStart, _line.MethodLength), destination);
        destination[written++] = (byte)' ';
        if (_originLength == 0 || head[_originStart] == (byte)'?')
        {
            destination[written++] = (byte)'/';
        }
        written += Copy(head.Slice(_originStart, _originLength), destination[written..]);
        written += Copy(_line.IsHttp11 ? " HTTP/1.1\r\n"u8 : " HTTP/1.0\r\n"u8, destination[written..]);
        return written;
    }

    /// <summary>
    /// The header fields, without the forwarding fields (rewritten after them) and, when it is replaced, Host; the
    /// values of the X-Forwarded-For fields (up to <paramref name="chain"/>'s length) are collected to extend.
    /// </summary>
    private int CopyFields(ReadOnlySpan<byte> head, Span<byte> destination, bool replaceHost, Span<(int Start, int Length)> chain, out int forwardedFor)
    {
        forwardedFor = 0;
        var block = head[_line.HeadersStart..(HeadLength - 2)];
        if (!_fields.HasForwardingFields && !replaceHost)
        {
            return Copy(block, destination);
        }
        var written = 0;
        var offset = 0;
        while (offset < block.Length)
        {
            var lf = block[offset..].IndexOf((byte)'\n');
            var line = block.Slice(offset, lf + 1);
            var name = line[..line.IndexOf((byte)':')];
            if (Ascii.EqualsIgnoreCase(name, "X-Forwarded-For"u8))
            {
                if (forwardedFor < chain.Length)
                {
                    var (start, length) = ValueRange(head, _line.HeadersStart + offset, _line.HeadersStart + offset + lf + 1);
                    if (length > 0)
                    {
                        chain[forwardedFor++] = (start, length);
                    }
                }
            }
            else if (!(Ascii.EqualsIgnoreCase(name, "X-Forwarded-Proto"u8) || Ascii.EqualsIgnoreCase(name, "X-Forwarded-Host"u8)
                || (replaceHost && Ascii.EqualsIgnoreCase(name, "Host"u8))))
            {
                written += Copy(line, destination[written..]);
            }
            offset += lf + 1;
        }
        return written;
    }

    private static int Copy(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        source.CopyTo(destination);
        return source.Length;
    }

    private static bool StartsWithIgnoreCase(ReadOnlySpan<byte> value, ReadOnlySpan<byte> prefix) =>
        value.Length >= prefix.Length && Ascii.EqualsIgnoreCase(value[..prefix.Length], prefix);

    /// <summary>The trimmed value of the field on the line [lineStart, lineEnd) of <paramref name="head"/>, as (start, length).</summary>
    private static (int Start, int Length) ValueRange(ReadOnlySpan<byte> head, int lineStart, int lineEnd)
    {
        var line = head[lineStart..lineEnd];
        var start = line.IndexOf((byte)':') + 1;
        var end = line.Length;
        while (end > start && line[end - 1] is (byte)'\n' or (byte)'\r' or (byte)' ' or (byte)'\t')
        {
            end--;
        }
        while (start < end && line[start] is (byte)' ' or (byte)'\t')
        {
            start++;
        }
        return (lineStart + start, end - start);
    }

    /// <summary>What the server needs of the fields, noted as the scan meets them.</summary>
    private struct Fields : IHeaderVisitor
    {
        public int HostLineStart;
        public int HostLineEnd;
        public int AuthorizationLineStart;
        public int AuthorizationLineEnd;
        public int AuthorizationCount;
        public bool ConnectionClose;
        public bool ConnectionKeepAlive;
        public bool ConnectionUpgrade;
        public bool HasUpgrade;
        public bool HasForwardingFields;

        public Fields()
        {
            HostLineStart = -1;
            AuthorizationLineStart = -1;
        }

        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, int lineStart, int lineEnd)
        {
            if (Ascii.EqualsIgnoreCase(name, "Host"u8))
            {
                (HostLineStart, HostLineEnd) = (lineStart, lineEnd);
            }
            else if (Ascii.EqualsIgnoreCase(name, "Authorization"u8))
            {
                if (AuthorizationCount++ == 0)
                {
                    (AuthorizationLineStart, AuthorizationLineEnd) = (lineStart, lineEnd);
                }
            }
            else if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                var rest = value;
                while (true)
                {
                    var comma = rest.IndexOf((byte)',');
                    var token = (comma < 0 ? rest : rest[..comma]).Trim(" \t"u8);
                    ConnectionClose |= Ascii.EqualsIgnoreCase(token, "close"u8);
                    ConnectionKeepAlive |= Ascii.EqualsIgnoreCase(token, "keep-alive"u8);
                    ConnectionUpgrade |= Ascii.EqualsIgnoreCase(token, "upgrade"u8);
                    if (comma < 0)
                    {
                        break;
                    }
                    rest = rest[(comma + 1)..];
                }
            }
            else if (Ascii.EqualsIgnoreCase(name, "Upgrade"u8))
            {
                HasUpgrade = true;
            }
            else if (name.Length > 12 && Ascii.EqualsIgnoreCase(name[..12], "X-Forwarded-"u8))
            {
                HasForwardingFields = true;
            }
        }
    }
}
