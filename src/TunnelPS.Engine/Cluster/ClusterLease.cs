namespace TunnelPS.Engine.Cluster;

/// <summary>
/// One name or TCP port held in the cluster store: which tenant owns it, which session (a hash of its id, never the
/// id) and which node (and run of that node) serve it, when that session claimed it, and the session its client proved
/// it had before (so the node that served that one knows the move is genuine). Stored signed (<see cref="LeaseSigner"/>).
/// </summary>
/// <param name="Key">"host:&lt;name&gt;" or "tcp:&lt;port&gt;".</param>
/// <param name="Since">When the session claimed it (Unix ms).</param>
/// <param name="Previous">The hash of the session id the client had before this login ("" for none).</param>
internal sealed record ClusterLease(string Key, string Tenant, string Session, string Node, string Run, long Since = 0, string Previous = "")
{
    public static string HostKey(string host) => "host:" + host.ToLowerInvariant();

    public static string TcpKey(int port) => "tcp:" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The host name of a host lease, or null for a tcp lease.</summary>
    public string? Host => Key.StartsWith("host:", StringComparison.Ordinal) ? Key[5..] : null;
}
