using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Transport;

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

    /// <summary>
    /// The address to listen on. Null listens on every address (IPv6 dual-mode where available) when the server has
    /// tokens or <see cref="AllowAnonymous"/> is set, and on loopback only (127.0.0.1 and ::1) otherwise. TCP tunnel
    /// ports bind where the server binds.
    /// </summary>
    public IPAddress? BindAddress { get; init; }

    /// <summary>
    /// Lets a server without tokens listen beyond loopback, so that anyone who reaches it can open tunnels. Without it,
    /// a server with no tokens listens on loopback only and refuses a non-loopback <see cref="BindAddress"/>.
    /// </summary>
    public bool AllowAnonymous { get; init; }

    /// <summary>
    /// The TLS certificate, used for every handshake. Null uses the default certificates of <see cref="Domain"/>: a
    /// per-user local CA, the server certificate it issued (what clients pin), and a certificate per https tunnel host
    /// minted by the CA when a visitor first asks for that name.
    /// </summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>Where the default certificates are kept (see <see cref="Certificate"/>); null: ~/.tunnelps.</summary>
    public string? CertificateFolder { get; init; }

    /// <summary>Tokens a client must present, each a tenant with the default limits; with no tokens and no token file any client is accepted.</summary>
    public IReadOnlyList<string> AuthTokens { get; init; } = [];

    /// <summary>
    /// A YAML file of tenants: tokens (or their SHA-256), each with reserved subdomains, hostnames and TCP ports and its own
    /// limits. Read at start (an error there stops the start) and again once a change has settled (polled every second;
    /// an error, or a file without a token list, then keeps the previous tenants with a warning; <c>tokens: []</c>
    /// removes them all). At most <see cref="Configuration.ServerTokenFile.MaxFileLength"/> bytes and
    /// <see cref="Configuration.ServerTokenFile.MaxTokens"/> tokens. Its tokens add to <see cref="AuthTokens"/>.
    /// </summary>
    public string? AuthTokenFile { get; init; }

    /// <summary>
    /// Host names a client may ask for with Hostname, besides names under <see cref="Domain"/>: exact names
    /// ("app.example.org") or wildcard patterns ("*.example.org", one or more labels). The domain itself and its parents
    /// are never given out.
    /// </summary>
    public IReadOnlyList<string> AllowedHostnames { get; init; } = [];

    /// <summary>Visitor addresses (CIDR or single addresses) refused by every tunnel of the server.</summary>
    public IReadOnlyList<string> DenyIP { get; init; } = [];

    /// <summary>The ports TCP tunnels get when they ask for none (inclusive); null lets the OS choose.</summary>
    public (int First, int Last)? TcpPortRange { get; init; }

    /// <summary>
    /// Carries visitors of TunnelPS clients as streams over a few multiplexed links (capability tunnelps/mux/1) instead
    /// of one pooled TLS connection each. ngrok 1.x clients always use the pool.
    /// </summary>
    public bool EnableMultiplexing { get; init; } = true;

    /// <summary>
    /// Completes visitor and link receives on the runtime's socket event thread rather than queueing them to the
    /// thread pool (see <see cref="InlineCompletions"/>). On by default on machines with up to 4 cores; TUNNELPS_INLINE_COMPLETIONS=0 turns it off for the whole process, whatever this says.
    /// </summary>
    public bool InlineSocketCompletions { get; init; } = InlineCompletions.IsWorthwhile;

    /// <summary>The receive window of each multiplexed stream: the most bytes a client may send a stream ahead of its visitor.</summary>
    public int StreamWindow { get; init; } = MuxLink.DefaultWindow;

    /// <summary>
    /// The most visitor streams one multiplexed link of a client carries at once (each holds up to
    /// <see cref="StreamWindow"/> bytes). A visitor that finds every link of its client at the cap waits up to
    /// <see cref="ProxyWaitTimeout"/> for a link, as when the client has none.
    /// </summary>
    public int MaxStreamsPerLink { get; init; } = MuxLinkLimits.DefaultMaxStreams;

    /// <summary>
    /// How long frames queued for a multiplexed link (a client's or another node's) may wait with no write to it
    /// completing before the link is closed: a peer that does not read its link ends it instead of holding memory.
    /// </summary>
    public TimeSpan LinkWriteTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How many idle proxy connections the server keeps ready per client.</summary>
    public int PoolSize { get; init; } = 4;

    /// <summary>A pooled connection older than this is replaced before middleboxes or the peer age it out.</summary>
    public TimeSpan PoolRecycleAge { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>How long a proxy connection the server asked for may take to arrive; after that the request is forgotten (and the pool asks again).</summary>
    public TimeSpan ProxyDialTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How long a visitor waits for a proxy connection when the pool is empty.</summary>
    public TimeSpan ProxyWaitTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>TLS handshake and first-frame deadline for a new connection.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a TLS client's ClientHello may take to arrive in full, from its first byte (and within
    /// <see cref="HandshakeTimeout"/>). A connection takes a handshake slot only once its hello is complete, so clients
    /// that start a hello and stall cannot hold the slots (<see cref="MaxConcurrentHandshakes"/>) that others need; one
    /// that misses this deadline is closed. Real hellos take one round trip.
    /// </summary>
    public TimeSpan ClientHelloTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A session that sends no Ping for this long is ended.</summary>
    public TimeSpan HeartbeatTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the names and ports of a disconnected client stay its token's (visitors get 503 meanwhile): the same
    /// token takes them back at once, no other token can. A client that stops cleanly releases them at once.
    /// </summary>
    public TimeSpan ReconnectGrace { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Idle time allowed on a public connection (no byte in either direction) between requests, and on a connection
    /// upgraded to another protocol (WebSocket); a connection owed a response is not cut by it.
    /// </summary>
    public TimeSpan PublicIdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The absolute time a request head may take, from its first byte (from the connection's start for the first
    /// request) to its empty line. Trickling bytes does not extend it; a visitor that misses it is disconnected.
    /// </summary>
    public TimeSpan RequestHeadTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How long a write to a visitor may make no progress (a visitor that does not read) before the connection is closed.</summary>
    public TimeSpan VisitorWriteTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The most tunnels (public URLs) one client session may hold.</summary>
    public int MaxTunnelsPerSession { get; init; } = 64;

    /// <summary>The most control sessions at once, over every token.</summary>
    public int MaxSessions { get; init; } = 1024;

    /// <summary>The most control sessions one token may hold at once (a token file can set its own).</summary>
    public int MaxSessionsPerToken { get; init; } = 16;

    /// <summary>The most TCP ports one token may hold at once (a token file can set its own).</summary>
    public int MaxTcpPortsPerToken { get; init; } = 16;

    /// <summary>The most visitor connections one tunnel may have open at once; more get 503 (http/https) or are closed (tcp).</summary>
    public int MaxConnectionsPerTunnel { get; init; } = 512;

    /// <summary>
    /// The most connections the server holds at once, over every port (visitors, clients' control and proxy
    /// connections). 0 sizes it from the process's descriptor limit (RLIMIT_NOFILE) with a reserve kept free, and a
    /// larger value is lowered to that size: a process out of descriptors cannot start threads and dies.
    /// </summary>
    public int MaxConnections { get; init; }

    /// <summary>The most connections one client address may hold before it logs in or while it visits tunnels.</summary>
    public int MaxConnectionsPerIP { get; init; } = 256;

    /// <summary>
    /// The most TLS handshakes the server works on at once: a handshake takes a slot once its ClientHello is complete
    /// (see <see cref="ClientHelloTimeout"/>) and gives it back while it waits for the client; more wait (within the
    /// handshake timeout) for a turn.
    /// </summary>
    public int MaxConcurrentHandshakes { get; init; } = 128;

    /// <summary>
    /// Makes the server one node of a cluster sharing names, ports and node presence in Redis; null (the default) keeps
    /// everything in memory and never loads the Redis client.
    /// </summary>
    public ClusterOptions? Cluster { get; init; }

    /// <summary>
    /// Gets public certificates from an ACME directory for the names tunnels hold (see <see cref="Acme.AcmeOptions"/>);
    /// null (the default) serves the local CA's or the given certificate only. Not with <see cref="Certificate"/>.
    /// </summary>
    public Acme.AcmeOptions? Acme { get; init; }

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// A copy that logs through a new <see cref="CallbackLoggerFactory"/>: for a host that must not name the logging
    /// types (the module, whose engine loads in its own context).
    /// </summary>
    public TunnelServerOptions WithLogCallback(Action<int, string, string, Exception?> sink, Func<int, bool>? isEnabled = null) =>
        this with { LoggerFactory = new CallbackLoggerFactory(sink, isEnabled) };

    /// <summary>
    /// The platform calls the server decides its features on (docs/platforms.md); null: this computer's
    /// (<see cref="PlatformCalls.System"/>). Tests give calls that fail, as on a platform that lacks them.
    /// </summary>
    internal PlatformCalls? Platform { get; init; }
}
