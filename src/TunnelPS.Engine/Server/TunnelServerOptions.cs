using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Server;

/// <summary>Everything a <see cref="TunnelServer"/> needs. Defaults give a working local server.</summary>
public sealed record TunnelServerOptions
{
    /// <summary>The domain public names live under: &lt;name&gt;.&lt;Domain&gt;. "localhost" resolves to loopback everywhere.</summary>
    public string Domain { get; init; } = "localhost";

    /// <summary>The TLS port for control, proxy and public HTTPS connections (0 = a free port). 443 on a real host.</summary>
    public int Port { get; init; } = 8443;

    /// <summary>The plain HTTP port for public HTTP (0 = a free port, -1 = no HTTP listener). 80 on a real host.</summary>
    public int HttpPort { get; init; } = 8080;

    /// <summary>The address to listen on; null listens on every address (IPv6 dual-mode where available).</summary>
    public IPAddress? BindAddress { get; init; }

    /// <summary>The TLS certificate; null uses the per-user self-signed certificate for <see cref="Domain"/>.</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>Tokens a client must present; empty accepts any client.</summary>
    public IReadOnlyList<string> AuthTokens { get; init; } = [];

    /// <summary>The ports TCP tunnels get when they ask for none (inclusive); null lets the OS choose.</summary>
    public (int First, int Last)? TcpPortRange { get; init; }

    /// <summary>How many idle proxy connections the server keeps ready per client.</summary>
    public int PoolSize { get; init; } = 4;

    /// <summary>A pooled connection older than this is replaced before middleboxes or the peer age it out.</summary>
    public TimeSpan PoolRecycleAge { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>How long a visitor waits for a proxy connection when the pool is empty.</summary>
    public TimeSpan ProxyWaitTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>TLS handshake and first-frame deadline for a new connection.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A session that sends no Ping for this long is ended.</summary>
    public TimeSpan HeartbeatTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the names of a disconnected client stay reserved for its reconnect (visitors get 503 meanwhile).</summary>
    public TimeSpan ReconnectGrace { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Idle time allowed between requests on a public keep-alive connection, and for a request head to arrive.</summary>
    public TimeSpan PublicIdleTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>The most tunnels (public URLs) one client session may hold.</summary>
    public int MaxTunnelsPerSession { get; init; } = 64;

    /// <summary>The most control sessions at once.</summary>
    public int MaxSessions { get; init; } = 1024;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public ILoggerFactory? LoggerFactory { get; init; }
}
