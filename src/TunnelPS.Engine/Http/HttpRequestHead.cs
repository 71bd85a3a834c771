namespace TunnelPS.Engine.Http;

/// <summary>The head of an HTTP/1.x request: request line and header fields.</summary>
public sealed class HttpRequestHead : HttpMessageHead
{
    public HttpRequestHead(string method, string target, string version, HttpHeaderList headers)
        : base(version, headers)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentException.ThrowIfNullOrEmpty(target);
        Method = method;
        Target = target;
    }

    public HttpRequestHead(string method, string target)
        : this(method, target, "HTTP/1.1", new HttpHeaderList())
    {
    }

    /// <summary>The method as sent (case-sensitive, e.g. "GET").</summary>
    public string Method { get; set; }

    /// <summary>The request target as sent: origin form "/path?query", absolute form, authority form (CONNECT) or "*".</summary>
    public string Target { get; set; }

    /// <summary>
    /// The host the request is addressed to: the authority of an absolute-form target if there is one (RFC 9112 3.2.2),
    /// else the Host header; null if neither. Includes the port if one was given.
    /// </summary>
    public string? Host
    {
        get
        {
            var authority = GetAbsoluteFormAuthority(Target);
            return authority ?? Headers["Host"];
        }
    }

    /// <summary>True if the request asks to switch protocols: a Connection header with the "upgrade" token and an Upgrade header.</summary>
    public bool IsUpgradeRequest => Headers.Contains("Upgrade") && Headers.ContainsToken("Connection", "upgrade");

    /// <summary>True for a CONNECT request: a successful response turns the connection into a raw tunnel.</summary>
    public bool IsConnect => string.Equals(Method, "CONNECT", StringComparison.Ordinal);

    /// <summary>True if an HTTP/1.1 request carries "Expect: 100-continue".</summary>
    public bool ExpectsContinue
    {
        get
        {
            if (!IsHttp11)
            {
                return false;
            }
            var expect = Headers["Expect"];
            return expect is not null && expect.AsSpan().Trim(" \t").Equals("100-continue", StringComparison.OrdinalIgnoreCase);
        }
    }

    private protected override int GetStartLineLength() => Method.Length + 1 + Target.Length + 1 + Version.Length;

    private protected override int WriteStartLine(Span<byte> destination)
    {
        var pos = WriteLatin1(Method, destination);
        destination[pos++] = (byte)' ';
        pos += WriteLatin1(Target, destination[pos..]);
        destination[pos++] = (byte)' ';
        pos += WriteLatin1(Version, destination[pos..]);
        return pos;
    }

    private static string? GetAbsoluteFormAuthority(string target)
    {
        int schemeEnd;
        if (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            schemeEnd = 7;
        }
        else if (target.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            schemeEnd = 8;
        }
        else
        {
            return null;
        }
        var rest = target.AsSpan(schemeEnd);
        var end = rest.IndexOfAny('/', '?', '#');
        var authority = end < 0 ? rest : rest[..end];
        var at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            authority = authority[(at + 1)..];
        }
        return authority.IsEmpty ? null : authority.ToString();
    }
}
