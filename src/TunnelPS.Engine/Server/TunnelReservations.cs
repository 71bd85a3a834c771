using TunnelPS.Engine.Cluster;

namespace TunnelPS.Engine.Server;

/// <summary>
/// What becomes of a session's tunnels when it ends: a single server keeps them its tenant's for the reconnect grace;
/// a cluster node writes the reservation to the cluster store and lets go of the names (and their TCP ports) at once.
/// </summary>
internal sealed class TunnelReservations(TunnelServer server)
{
    /// <summary>
    /// A session ended: its tunnels stay its tenant's for the reconnect grace (released at once when a single server
    /// stops). In a cluster the reservation lives in the cluster store, where the client takes its names back on any
    /// node (this one included), and this node lets go of them (and of their TCP ports) at once.
    /// </summary>
    public void Reserve(ControlSession session)
    {
        var stopping = server.Stopping.IsCancellationRequested;
        var until = server.Options.TimeProvider.GetUtcNow() + server.Options.ReconnectGrace;
        foreach (var tunnel in session.Tunnels)
        {
            if (server.Cluster is { } cluster)
            {
                // Only the first end of a session lets go (a replaced session ends twice: at the new login and when its run ends).
                if (server.Registry.Remove(tunnel))
                {
                    if (tunnel.Listener is { } listener)
                    {
                        server.Track(listener.DisposeAsync().AsTask());
                    }
                    if (tunnel.ClusterLease is { } lease && !HeldByAnotherScheme(tunnel, lease))
                    {
                        cluster.Reserve(lease);
                    }
                }
            }
            else if (stopping)
            {
                Release(tunnel);
            }
            else if (ReferenceEquals(tunnel.Session, session))
            {
                tunnel.ReservedUntil = until;
                tunnel.Session = null;
            }
        }
    }

    /// <summary>Removes the tunnel from the registry, closes its port and lets go of its cluster lease.</summary>
    public void Release(RegisteredTunnel tunnel)
    {
        if (server.Registry.Remove(tunnel))
        {
            if (tunnel.Listener is { } listener)
            {
                server.Track(listener.DisposeAsync().AsTask());
            }
            if (server.Cluster is { } cluster && tunnel.ClusterLease is { } lease && !HeldByAnotherScheme(tunnel, lease))
            {
                cluster.Release(lease);
            }
        }
    }

    /// <summary>True when the other scheme's tunnel of the same host still holds the same cluster lease (http+https).</summary>
    private bool HeldByAnotherScheme(RegisteredTunnel tunnel, ClusterLease lease) =>
        tunnel.Protocol != "tcp" && server.Registry.FindHttp(tunnel.Protocol == "http" ? "https" : "http", tunnel.Host) is { } other &&
        !ReferenceEquals(other, tunnel) && other.ClusterLease == lease;
}
