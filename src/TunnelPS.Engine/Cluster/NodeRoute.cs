using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Cluster;

/// <summary>Where a visitor for a host this node does not serve must go, as the cluster store has it.</summary>
internal enum NodeRouteKind
{
    /// <summary>No node holds the host.</summary>
    None,

    /// <summary>The host is reserved for a client that is away (visitors get 503, as on one server).</summary>
    Reserved,

    /// <summary>Another node serves it: forward over <see cref="NodeRoute.Link"/>.</summary>
    Remote,

    /// <summary>The store or the owning node cannot be reached now.</summary>
    Unavailable,
}

/// <summary>The answer of Server.ClusterNode.RouteAsync; <paramref name="Cached"/> when it came from the node's route cache, not the store.</summary>
internal readonly record struct NodeRoute(NodeRouteKind Kind, MuxLink? Link = null, string? Node = null, string? Problem = null, bool Cached = false);
