using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>One public URL on the server, the tenant that owns its name and the session that serves it.</summary>
internal sealed class RegisteredTunnel : IClusterTunnel
{
    private long _connectionCount;
    private int _openConnections;

    public required string Url { get; init; }
    public required string Protocol { get; init; }
    /// <summary>The host name (http/https) or the domain (tcp).</summary>
    public required string Host { get; init; }
    public int Port { get; init; }

    /// <summary>The key of the tenant that owns the name (or port) for every scheme.</summary>
    public required string Owner { get; init; }

    /// <summary>The tenant's display name.</summary>
    public required string OwnerName { get; init; }

    public BasicAuthentication? Auth { get; init; }

    /// <summary>Which visitor addresses may use the tunnel (the server's deny list is checked at accept).</summary>
    public IPAccessList Access { get; init; } = IPAccessList.AllowAll;

    /// <summary>The most visitor connections open at once.</summary>
    public int MaxConnections { get; init; } = int.MaxValue;

    /// <summary>The Host header sent to the local service instead of the visitor's (TunnelPS extension), or null.</summary>
    public string? HostHeader { get; init; }
    public DateTimeOffset StartTime { get; init; }

    /// <summary>The session serving it; null while it waits for its client to reconnect.</summary>
    public ControlSession? Session { get; set; }

    /// <summary>When a reserved tunnel is released for good.</summary>
    public DateTimeOffset ReservedUntil { get; set; } = DateTimeOffset.MaxValue;

    /// <summary>For tcp tunnels: the listener on <see cref="Port"/>.</summary>
    public TcpTunnelListener? Listener { get; set; }

    /// <summary>In a cluster: the lease this tunnel holds on its name or port in the cluster store.</summary>
    public ClusterLease? ClusterLease { get; set; }

    IClusterSession? IClusterTunnel.ClusterSession => Session;

    public long ConnectionCount => Interlocked.Read(ref _connectionCount);

    /// <summary>Visitor connections open now.</summary>
    public int OpenConnections => Volatile.Read(ref _openConnections);

    /// <summary>True when the tunnel is neither served nor reserved any more at <paramref name="now"/>.</summary>
    public bool IsExpired(DateTimeOffset now) => Session is null && ReservedUntil <= now;

    /// <summary>Counts a new visitor connection; false (and nothing counted) when the tunnel already has its most.</summary>
    public bool TryOpenConnection()
    {
        if (Interlocked.Increment(ref _openConnections) > MaxConnections)
        {
            Interlocked.Decrement(ref _openConnections);
            return false;
        }
        Interlocked.Increment(ref _connectionCount);
        return true;
    }

    public void CloseConnection() => Interlocked.Decrement(ref _openConnections);
}
