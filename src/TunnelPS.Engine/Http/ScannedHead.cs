namespace TunnelPS.Engine.Http;

/// <summary>
/// What <see cref="HttpHeadScanner"/> found in a complete head: only what framing and connection handling need, no
/// strings. The same facts <see cref="HttpHeadParser"/>, <see cref="HttpFraming"/> and <see cref="HttpMessageHead"/>
/// give for the same bytes.
/// </summary>
internal readonly struct ScannedHead
{
    /// <summary>The status code of a response; 0 for a request.</summary>
    public int StatusCode { get; init; }

    /// <summary>HTTP/1.1 (true) or HTTP/1.0 (false).</summary>
    public bool IsHttp11 { get; init; }

    /// <summary>The declared Content-Length, or -1 when there is none or Transfer-Encoding overrides it.</summary>
    public long ContentLength { get; init; }

    /// <summary>The head carries Transfer-Encoding.</summary>
    public bool HasTransferEncoding { get; init; }

    /// <summary>chunked is the final transfer coding.</summary>
    public bool IsChunked { get; init; }

    /// <summary>A Connection header lists "close".</summary>
    public bool ConnectionClose { get; init; }

    /// <summary>A Connection header lists "keep-alive".</summary>
    public bool ConnectionKeepAlive { get; init; }

    /// <summary>A Connection header lists "upgrade".</summary>
    public bool ConnectionUpgrade { get; init; }

    /// <summary>The head carries an Upgrade header.</summary>
    public bool HasUpgrade { get; init; }

    /// <summary>Where a request's method starts in the scanned bytes (after leading empty lines); 0 for a response.</summary>
    public int MethodStart { get; init; }

    /// <summary>The length of a request's method; 0 for a response.</summary>
    public int MethodLength { get; init; }

    /// <summary>The request's method is HEAD, in any case (as a response's framing compares it).</summary>
    public bool IsHeadMethod { get; init; }

    /// <summary>The request's method is CONNECT, in any case (as a response's framing compares it).</summary>
    public bool IsConnectMethod { get; init; }

    /// <summary>The request's method is exactly "CONNECT" (<see cref="HttpRequestHead.IsConnect"/>).</summary>
    public bool IsConnect { get; init; }

    /// <summary>As <see cref="HttpMessageHead.KeepAlive"/>: HTTP/1.1 unless "close"; HTTP/1.0 only with "keep-alive".</summary>
    public bool KeepAlive => !ConnectionClose && (IsHttp11 || ConnectionKeepAlive);

    /// <summary>As <see cref="HttpResponseHead.IsInterim"/>: a 1xx response other than 101.</summary>
    public bool IsInterim => StatusCode is >= 100 and < 200 and not 101;

    /// <summary>As <see cref="HttpRequestHead.IsUpgradeRequest"/>: an Upgrade header and "upgrade" in Connection.</summary>
    public bool IsUpgradeRequest => HasUpgrade && ConnectionUpgrade;
}
