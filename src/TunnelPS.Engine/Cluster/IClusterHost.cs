using System.Net;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Cluster;

/// <summary>
/// What a cluster node needs of the server it runs in: its clock and deadlines, what it serves now (tunnels, sessions,
/// the token file's reservations) and how it serves a visitor another node forwarded. The server implements it, so the
/// cluster's logic sits below the server and does not reach up into it.
/// </summary>
internal interface IClusterHost
{
    TimeProvider Time { get; }

    /// <summary>How long a lease lives without its node's renewal, and a tunnel waits for its client (-ReconnectGrace).</summary>
    TimeSpan ReconnectGrace { get; }

    /// <summary>The deadline of a node link's handshake.</summary>
    TimeSpan HandshakeTimeout { get; }

    /// <summary>The flow-control window of a node link's streams.</summary>
    int StreamWindow { get; }

    /// <summary>The server's domain: the name a dialling node asks for in its TLS handshake.</summary>
    string Domain { get; }

    /// <summary>Where the server listens (host:port), the node's address unless its options give one.</summary>
    string ServerAddress { get; }

    /// <summary>The SHA-256 fingerprint of the server's certificate (node links bind their proof to it).</summary>
    string CertificateThumbprint { get; }

    DateTimeOffset StartTime { get; }
    int SessionCount { get; }

    /// <summary>Throttles the log lines a remote peer can trigger.</summary>
    LogThrottle Throttle { get; }

    /// <summary>The stream limits of a link named <paramref name="name"/>.</summary>
    MuxLinkLimits LinkLimits(string name, int maxStreams);

    /// <summary>Observes a background task until the server stops.</summary>
    void Track(Task task);

    /// <summary>The tunnels this server holds now (served or waiting for their client).</summary>
    IEnumerable<IClusterTunnel> Tunnels { get; }

    /// <summary>The tunnel of <paramref name="scheme"/> for <paramref name="host"/> on this server, or null.</summary>
    IClusterTunnel? FindHttp(string scheme, string host);

    /// <summary>The sessions connected now.</summary>
    IEnumerable<IClusterSession> Sessions { get; }

    /// <summary>Every tenant of the token file with the names and ports it reserves: (tenant key, hosts, ports).</summary>
    IEnumerable<(string TenantKey, IReadOnlySet<string> Hosts, IReadOnlySet<int> Ports)> Reservations { get; }

    /// <summary>
    /// Serves one visitor connection another node forwarded here (<paramref name="url"/> is "cluster:http" or
    /// "cluster:https", <paramref name="clientAddress"/> the visitor's own address), as if it had arrived here.
    /// </summary>
    Task ServeForwardedAsync(MuxStream stream, string url, string clientAddress);

    /// <summary>A new connection id for the logs.</summary>
    long NextConnectionId();

    /// <summary>Logs the end of a connection (the same line the server writes for its own).</summary>
    void ConnectionClosed(long connectionId, string remote, string reason);

    /// <summary>Logs a refused link (throttled).</summary>
    void LinkRefused(long connectionId, EndPoint? remote, string reason);
}
