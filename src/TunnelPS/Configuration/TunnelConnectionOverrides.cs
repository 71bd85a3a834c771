using System.Net;

namespace TunnelPS.Configuration;

/// <summary>What Start-Tunnel's parameters say about the server, token, proxy and trust; null means "not given".</summary>
internal sealed record TunnelConnectionOverrides
{
    internal string? ServerAddress { get; init; }
    internal string? AuthToken { get; init; }
    internal string? AuthTokenSecret { get; init; }
    internal string? Proxy { get; init; }
    internal NetworkCredential? ProxyCredential { get; init; }
    internal string? ServerCertificateThumbprint { get; init; }
    internal bool SkipCertificateCheck { get; init; }
}
