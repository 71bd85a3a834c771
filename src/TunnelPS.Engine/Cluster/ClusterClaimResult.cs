namespace TunnelPS.Engine.Cluster;

/// <summary>How the cluster store answered a claim.</summary>
internal enum ClusterClaimResult
{
    /// <summary>The lease is the claimant's now.</summary>
    Claimed,

    /// <summary>Another tenant holds the name or port.</summary>
    OtherTenant,

    /// <summary>A live session of the same tenant on a live node serves it.</summary>
    OtherSession,

    /// <summary>A parent of the name belongs to another tenant.</summary>
    ParentHeld,

    /// <summary>Another tenant holds names under the name.</summary>
    ChildHeld,

    /// <summary>The tenant already holds as many TCP ports across the cluster as it may.</summary>
    LimitReached,

    /// <summary>A live node's token file reserves the name or port for another tenant.</summary>
    Reserved,

    /// <summary>A live node's token file reserves a parent of the name (the conflict) for another tenant.</summary>
    ReservedParent,

    /// <summary>A live node's token file reserves names under the name for another tenant.</summary>
    ReservedChild,
}
