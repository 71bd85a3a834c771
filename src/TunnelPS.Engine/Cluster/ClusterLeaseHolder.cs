namespace TunnelPS.Engine.Cluster;

/// <summary>Who holds a lease now, as the cluster store has it.</summary>
/// <param name="Live">True when a session serves it (false: reserved for its tenant's reconnect).</param>
/// <param name="NodeAlive">True when the node that holds it still sends its heartbeat with the same run.</param>
/// <param name="NodeDescription">The holding node's last heartbeat description (JSON), or null.</param>
/// <param name="Forgery">Why the stored lease is not a valid one (not signed under the cluster secret), or null.</param>
internal sealed record ClusterLeaseHolder(string Tenant, string Session, string Node, string Run, bool Live, bool NodeAlive, string? NodeDescription, string? Forgery = null);
