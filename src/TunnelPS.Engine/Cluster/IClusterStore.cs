namespace TunnelPS.Engine.Cluster;

/// <summary>
/// The state the nodes of a cluster share: leases on names and TCP ports, and node presence. Every call throws
/// <see cref="ClusterStoreException"/> when the store cannot be reached. An interface so that the server never names
/// the Redis client's types (and never loads it) when no cluster is configured.
/// </summary>
internal interface IClusterStore : IAsyncDisposable
{
    /// <summary>Where the store is, for messages (no password).</summary>
    string Description { get; }

    /// <summary>
    /// Claims a lease atomically: free, or held by the same tenant and reserved, held by the same session, or held by a
    /// node that stopped, or held by the lease's <see cref="ClusterLease.Previous"/> session (the session the claiming
    /// client had before it logged in again, proven by its secret id). For host leases, no parent of the host and no
    /// name under it may belong to another tenant; a tcp lease is refused when its tenant already holds
    /// <paramref name="maxTcpPorts"/> ports across the cluster. A refusal because of the lease itself (OtherTenant,
    /// OtherSession) comes with the value held there, checked; <paramref name="overriding"/> is a value the caller
    /// found forged, taken as free if it is still the one held.
    /// </summary>
    Task<(ClusterClaimResult Result, string? Conflict, StoredLease? Holder)> ClaimAsync(ClusterLease lease, IReadOnlyList<string> parents, int maxTcpPorts, TimeSpan ttl, string? overriding, CancellationToken cancellationToken);

    /// <summary>
    /// Counts a session of <paramref name="tenant"/> (its hash <paramref name="session"/>) in the cluster for
    /// <paramref name="ttl"/>, unless the tenant already has <paramref name="maxSessions"/> there; a session the client
    /// had before (<paramref name="previousSession"/>, proven by its secret id) stops counting once the node that held it is
    /// gone; while a live node serves it, it counts like any other. False when refused.
    /// </summary>
    Task<bool> AdmitSessionAsync(string tenant, string session, string previousSession, string holder, int maxSessions, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Renews the sessions a node serves (written again if the store forgot them).</summary>
    Task RenewSessionsAsync(IReadOnlyList<(string Tenant, string Session)> sessions, string holder, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Stops counting a session (it ended).</summary>
    Task EndSessionAsync(string tenant, string session, CancellationToken cancellationToken);

    /// <summary>Deletes a lease if the same session and run still hold it.</summary>
    Task ReleaseAsync(ClusterLease lease, IReadOnlyList<string> parents, CancellationToken cancellationToken);

    /// <summary>Marks a lease reserved for its tenant's reconnect for <paramref name="grace"/>, if the same session and run still hold it.</summary>
    Task ReserveAsync(ClusterLease lease, TimeSpan grace, CancellationToken cancellationToken);

    /// <summary>
    /// Writes a live lease back over <paramref name="replacing"/> (a forged value, or a later claim made while the lease
    /// had vanished) if that is still the value held; false when the value changed meanwhile.
    /// </summary>
    Task<bool> ReassertAsync(ClusterLease lease, string replacing, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>
    /// Announces the node alive for <paramref name="nodeTtl"/> with its description, and renews its live leases for
    /// <paramref name="leaseTtl"/>. Returns the leases the store holds something else for (with that value, checked), and the run another process announced
    /// under the same node name (null when none did); Fresh is true when the store did not know this run of the node
    /// (its first heartbeat, or the store forgot it or it lapsed), so what the node published must be written again.
    /// </summary>
    Task<(IReadOnlyList<(ClusterLease Lease, StoredLease Holder)> Lost, string? OtherRun, bool Fresh)> HeartbeatAsync(string node, string run, string description, TimeSpan nodeTtl, IReadOnlyList<ClusterLease> leases, TimeSpan leaseTtl, CancellationToken cancellationToken);

    /// <summary>
    /// Announces the names and ports this node's token file reserves (pairs of "resv:host:&lt;name&gt;",
    /// "resvunder:&lt;parent&gt;" or "resv:tcp:&lt;port&gt;" and the tenant's hash), replacing what it announced before.
    /// They hold while this run of the node is alive; returns how many were written.
    /// </summary>
    Task<int> PublishReservationsAsync(string node, string run, IReadOnlyCollection<(string Key, string Tenant)> reservations, CancellationToken cancellationToken);

    /// <summary>Removes the node's presence (a clean stop).</summary>
    Task LeaveAsync(string node, string run, CancellationToken cancellationToken);

    /// <summary>Who holds a lease key, or null.</summary>
    Task<ClusterLeaseHolder?> FindAsync(string key, CancellationToken cancellationToken);

    /// <summary>The descriptions of the nodes alive now.</summary>
    Task<IReadOnlyList<string>> NodesAsync(CancellationToken cancellationToken);
}
