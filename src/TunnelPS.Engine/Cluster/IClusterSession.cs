namespace TunnelPS.Engine.Cluster;

/// <summary>A client's session as a cluster node sees it: whose it is, what its token may hold, how to end it.</summary>
internal interface IClusterSession
{
    /// <summary>The key of the session's tenant (the SHA-256 of its token).</summary>
    string TenantKey { get; }

    /// <summary>The tenant's display name.</summary>
    string TenantName { get; }

    /// <summary>The most sessions the tenant may have at once.</summary>
    int MaxSessions { get; }

    /// <summary>The most TCP ports the tenant may hold.</summary>
    int MaxTcpPorts { get; }

    /// <summary>The session's id (a secret: the store keeps a hash).</summary>
    string ClientId { get; }

    /// <summary>The id the client presented at login (its previous session's when it reconnects), or "".</summary>
    string PresentedClientId { get; }

    /// <summary>What logs call the session.</summary>
    string Label { get; }

    /// <summary>Ends the session (its client reconnects).</summary>
    void End(string reason);
}
