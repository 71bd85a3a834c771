using System.Security.Cryptography.X509Certificates;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Client;

/// <summary>
/// One step of a connectivity check against one server: what was tried, how it ended, how long it took, one line of
/// detail, and what to do when it failed. The typed fields that do not belong to the step are null.
/// </summary>
public sealed record ConnectivityStep
{
    /// <summary>The server address the step belongs to (host:port, as given).</summary>
    public string Server { get; init; } = "";

    public ConnectivityStepKind Kind { get; init; }

    public ConnectivityStepStatus Status { get; init; }

    public TimeSpan Duration { get; init; }

    /// <summary>One line: what the step found ("127.0.0.1 (an IP address)", "HTTP/1.1 200 Connection established, auth: Basic").</summary>
    public string Detail { get; init; } = "";

    /// <summary>What to do about a failed step, or why a step was skipped; null when it passed.</summary>
    public string? Hint { get; init; }

    /// <summary>Resolve: the addresses found.</summary>
    public IReadOnlyList<string>? Addresses { get; init; }

    /// <summary>Connect: the address the connection was made to (ip:port).</summary>
    public string? RemoteEndPoint { get; init; }

    /// <summary>Whether the connection went through a proxy (Connect and ProxyConnect: to the proxy).</summary>
    public bool ViaProxy { get; init; }

    /// <summary>ProxyConnect: the status of the proxy's last answer.</summary>
    public int? ProxyStatusCode { get; init; }

    /// <summary>ProxyConnect: the status line of the proxy's last answer.</summary>
    public string? ProxyStatusLine { get; init; }

    /// <summary>ProxyConnect: the schemes the proxy offered in Proxy-Authenticate (empty when it asked for none).</summary>
    public IReadOnlyList<string>? ProxyAuthSchemes { get; init; }

    /// <summary>ProxyConnect: the scheme of the credentials sent; null when none were sent.</summary>
    public string? ProxyAuthScheme { get; init; }

    /// <summary>Tls: the negotiated protocol ("TLS 1.3").</summary>
    public string? TlsProtocol { get; init; }

    /// <summary>Tls: the negotiated cipher suite.</summary>
    public string? CipherSuite { get; init; }

    /// <summary>Tls: the server's certificate (also when it was refused).</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>Tls: the SHA-256 thumbprint of the server's certificate.</summary>
    public string? CertificateThumbprint { get; init; }

    /// <summary>Tls: why the certificate was accepted; <see cref="ServerCertificateTrust.None"/> when it was refused.</summary>
    public ServerCertificateTrust? CertificateTrust { get; init; }

    /// <summary>Protocol: the protocol version the server announced.</summary>
    public string? ServerVersion { get; init; }

    /// <summary>Protocol: the capabilities the server announced (tunnelps/1, tunnelps/mux/1, ...).</summary>
    public IReadOnlyList<string>? ServerCapabilities { get; init; }

    /// <summary>Latency: the median round trip, in milliseconds.</summary>
    public double? LatencyMilliseconds { get; init; }
}
