namespace TunnelPS.Engine.Cluster;

/// <summary>
/// A lease value as the cluster store holds it, read and checked by <see cref="LeaseSigner"/>.
/// </summary>
/// <param name="Value">The value exactly as stored (to replace it only if it is still there).</param>
/// <param name="Since">When its session claimed the name (Unix ms): of two valid claims, the earlier keeps the name.</param>
/// <param name="Previous">The session (hash) its client had before and proved with its secret id, or "".</param>
/// <param name="Forgery">Why the value does not count (not signed, wrong signature, signature expired), or null when it is valid.</param>
internal sealed record StoredLease(string Value, string Tenant, string Session, string Node, string Run, bool Live, long Since, string Previous, string? Forgery)
{
    /// <summary>True when this valid claim came before <paramref name="lease"/>'s (the earlier claim keeps a name both hold).</summary>
    public bool Precedes(ClusterLease lease) =>
        Since < lease.Since || (Since == lease.Since && string.CompareOrdinal(Session, lease.Session) < 0);
}
