namespace TunnelPS.Engine.Http;

/// <summary>How the body of one HTTP/1.x message is delimited.</summary>
public enum HttpBodyKind
{
    /// <summary>No body: a request without Content-Length or Transfer-Encoding; a response to HEAD; 1xx, 204, 304.</summary>
    None,

    /// <summary>Exactly Content-Length bytes.</summary>
    ContentLength,

    /// <summary>Chunked transfer coding, ending with the last chunk and the trailer section.</summary>
    Chunked,

    /// <summary>A response with neither Content-Length nor chunked: the body runs until the connection closes.</summary>
    UntilClose,
}
