namespace TunnelPS.Engine.Cluster;

/// <summary>A tunnel as a cluster node sees it: its name or port, its URL, its lease and the session serving it.</summary>
internal interface IClusterTunnel
{
    string Url { get; }

    /// <summary>http, https or tcp.</summary>
    string Protocol { get; }

    /// <summary>The host name (http/https) or the domain (tcp).</summary>
    string Host { get; }

    int Port { get; }

    /// <summary>The lease this tunnel holds on its name or port in the cluster store.</summary>
    ClusterLease? ClusterLease { get; set; }

    /// <summary>The session serving it; null while it waits for its client.</summary>
    IClusterSession? ClusterSession { get; }
}
