namespace TunnelPS.Engine.Cluster;

/// <summary>One node of the cluster as its last heartbeat described it.</summary>
public sealed record ClusterNodeInfo(string Name, string Address, int Sessions, IReadOnlyList<string> Tunnels, DateTimeOffset StartTime, DateTimeOffset LastSeen);
