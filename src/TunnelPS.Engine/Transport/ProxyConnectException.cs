namespace TunnelPS.Engine.Transport;

/// <summary>
/// Dialling through an HTTP CONNECT proxy failed. <see cref="Kind"/> is <see cref="TunnelErrorKind.ProxyAuthentication"/>
/// when the proxy answered 407, <see cref="TunnelErrorKind.Timeout"/> when the dial ran out of time, and
/// <see cref="TunnelErrorKind.Connection"/> otherwise (unreachable proxy, refused CONNECT, malformed answer).
/// The message always names the proxy (never its password) and the target.
/// </summary>
public sealed class ProxyConnectException : TunnelException
{
    private readonly TunnelErrorKind _kind;

    public ProxyConnectException(string message) : this(message, TunnelErrorKind.Connection, null, null, 0, null, null) { }
    public ProxyConnectException(string message, Exception inner) : this(message, TunnelErrorKind.Connection, null, null, 0, null, inner) { }

    /// <summary>Creates the exception with everything a caller may want to show or test.</summary>
    public ProxyConnectException(string message, TunnelErrorKind kind, string? proxyAddress, string? targetHost, int targetPort, int? statusCode, Exception? inner)
        : base(message, inner!)
    {
        _kind = kind;
        ProxyAddress = proxyAddress;
        TargetHost = targetHost;
        TargetPort = targetPort;
        StatusCode = statusCode;
    }

    /// <inheritdoc />
    public override TunnelErrorKind Kind => _kind;

    /// <summary>The proxy as <c>http://host:port</c>, without user info.</summary>
    public string? ProxyAddress { get; }

    /// <summary>The host the CONNECT asked for.</summary>
    public string? TargetHost { get; }

    /// <summary>The port the CONNECT asked for.</summary>
    public int TargetPort { get; }

    /// <summary>The proxy's HTTP status, when it answered with one.</summary>
    public int? StatusCode { get; }
}
