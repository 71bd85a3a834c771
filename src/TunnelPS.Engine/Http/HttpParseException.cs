namespace TunnelPS.Engine.Http;

/// <summary>
/// Bytes that should be an HTTP/1.1 message head or body framing are not: a malformed request line, a header that
/// could be used for request smuggling, a head larger than <see cref="HttpHeadParser.MaxHeadLength"/>, a bad chunk size.
/// <see cref="StatusCode"/> is the status a server should answer with (400, or 431 for an oversized head).
/// </summary>
public sealed class HttpParseException : TunnelException
{
    public HttpParseException() : this("Malformed HTTP message.") { }
    public HttpParseException(string message) : this(message, 400) { }
    public HttpParseException(string message, Exception inner) : base(message, inner) => StatusCode = 400;
    public HttpParseException(string message, int statusCode) : base(message) => StatusCode = statusCode;

    /// <summary>The HTTP status a server should send back: 400 (Bad Request) or 431 (Request Header Fields Too Large).</summary>
    public int StatusCode { get; }

    public override TunnelErrorKind Kind => StatusCode == 431 ? TunnelErrorKind.LimitReached : TunnelErrorKind.Protocol;
}
