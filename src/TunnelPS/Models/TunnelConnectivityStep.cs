using System.Security.Cryptography.X509Certificates;
using TunnelPS.Engine.Client;

namespace TunnelPS;

/// <summary>
/// One step of Test-TunnelConnectivity against one server address: Resolve, Connect, ProxyConnect, Tls, Protocol,
/// Auth or Latency, with its status, duration, one line of detail and what to do when it failed. The typed properties
/// of the other steps are null.
/// </summary>
public sealed class TunnelConnectivityStep
{
    internal TunnelConnectivityStep(ConnectivityStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        Server = step.Server;
        Step = step.Kind.ToString();
        Status = (TunnelConnectivityStatus)(int)step.Status;
        Duration = step.Duration;
        Detail = step.Detail;
        Hint = step.Hint;
        Addresses = step.Addresses is null ? null : [.. step.Addresses];
        RemoteEndPoint = step.RemoteEndPoint;
        ViaProxy = step.ViaProxy;
        ProxyStatusCode = step.ProxyStatusCode;
        ProxyStatusLine = step.ProxyStatusLine;
        ProxyAuthSchemes = step.ProxyAuthSchemes is null ? null : [.. step.ProxyAuthSchemes];
        ProxyAuthScheme = step.ProxyAuthScheme;
        TlsProtocol = step.TlsProtocol;
        CipherSuite = step.CipherSuite;
        Certificate = step.Certificate;
        CertificateThumbprint = step.CertificateThumbprint;
        CertificateTrust = step.CertificateTrust?.ToString();
        ServerVersion = step.ServerVersion;
        ServerCapabilities = step.ServerCapabilities is null ? null : [.. step.ServerCapabilities];
        LatencyMilliseconds = step.LatencyMilliseconds;
    }

    /// <summary>The server address checked (host:port); each node of a cluster has its own steps.</summary>
    public string Server { get; }

    /// <summary>Resolve, Connect, ProxyConnect, Tls, Protocol, Auth or Latency.</summary>
    public string Step { get; }

    /// <summary>Passed, Failed or Skipped.</summary>
    public TunnelConnectivityStatus Status { get; }

    /// <summary>How long the step took.</summary>
    public TimeSpan Duration { get; }

    /// <summary>One line: what the step found.</summary>
    public string Detail { get; }

    /// <summary>What to do when the step failed, or why it was skipped; null when it passed.</summary>
    public string? Hint { get; }

    /// <summary>Resolve: the addresses the name resolved to.</summary>
    public string[]? Addresses { get; }

    /// <summary>Connect: the address connected to (ip:port).</summary>
    public string? RemoteEndPoint { get; }

    /// <summary>Whether the connection goes through a proxy (Connect then reaches the proxy).</summary>
    public bool ViaProxy { get; }

    /// <summary>ProxyConnect: the HTTP status of the proxy's last answer to CONNECT.</summary>
    public int? ProxyStatusCode { get; }

    /// <summary>ProxyConnect: the status line of the proxy's last answer.</summary>
    public string? ProxyStatusLine { get; }

    /// <summary>ProxyConnect: the authentication schemes the proxy offered (Basic, NTLM, Negotiate).</summary>
    public string[]? ProxyAuthSchemes { get; }

    /// <summary>ProxyConnect: the scheme of the credentials sent; null when none were sent.</summary>
    public string? ProxyAuthScheme { get; }

    /// <summary>Tls: the negotiated protocol (TLS 1.3).</summary>
    public string? TlsProtocol { get; }

    /// <summary>Tls: the negotiated cipher suite.</summary>
    public string? CipherSuite { get; }

    /// <summary>Tls: the server's certificate, also when it was refused.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>Tls: the SHA-256 thumbprint of the server's certificate (what -ServerCertificateThumbprint takes).</summary>
    public string? CertificateThumbprint { get; }

    /// <summary>Tls: why the certificate was accepted (System, Pinned, LocalAuthority, Skipped), or None when it was refused.</summary>
    public string? CertificateTrust { get; }

    /// <summary>Protocol: the protocol version the server announced.</summary>
    public string? ServerVersion { get; }

    /// <summary>Protocol: the capabilities the server announced.</summary>
    public string[]? ServerCapabilities { get; }

    /// <summary>Latency: the median Ping/Pong round trip, in milliseconds.</summary>
    public double? LatencyMilliseconds { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Server} {Step}: {Status}";
}
