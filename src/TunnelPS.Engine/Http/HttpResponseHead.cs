using System.Globalization;

namespace TunnelPS.Engine.Http;

/// <summary>The head of an HTTP/1.x response: status line and header fields.</summary>
internal sealed class HttpResponseHead : HttpMessageHead
{
    public HttpResponseHead(string version, int statusCode, string reason, HttpHeaderList headers)
        : base(version, headers)
    {
        ArgumentNullException.ThrowIfNull(reason);
        StatusCode = statusCode;
        Reason = reason;
    }

    public HttpResponseHead(int statusCode, string reason)
        : this("HTTP/1.1", statusCode, reason, new HttpHeaderList())
    {
    }

    private int _statusCode;

    /// <summary>The three-digit status code.</summary>
    public int StatusCode
    {
        get => _statusCode;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 100);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 999);
            _statusCode = value;
        }
    }

    /// <summary>The reason phrase as sent (may be empty).</summary>
    public string Reason { get; set; }

    /// <summary>True for a 1xx response other than 101: an interim response that precedes the final one.</summary>
    public bool IsInterim => StatusCode is >= 100 and < 200 and not 101;

    private protected override int GetStartLineLength() => Version.Length + 1 + 3 + 1 + Reason.Length;

    private protected override int WriteStartLine(Span<byte> destination)
    {
        var pos = WriteLatin1(Version, destination);
        destination[pos++] = (byte)' ';
        StatusCode.TryFormat(destination[pos..], out var written, default, CultureInfo.InvariantCulture);
        pos += written;
        destination[pos++] = (byte)' ';
        pos += WriteLatin1(Reason, destination[pos..]);
        return pos;
    }
}
