using System.Net.Security;
using System.Security.Authentication;

namespace TunnelPS.Engine.Transport;

/// <summary>TLS settings shared by every listener and dialler: TLS 1.2 or newer only.</summary>
internal static class TlsDefaults
{
    public const SslProtocols Protocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    public static readonly List<SslApplicationProtocol> HttpAlpn = [SslApplicationProtocol.Http11];
}
