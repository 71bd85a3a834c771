namespace TunnelPS.Engine.Cluster;

/// <summary>The cluster store (Redis) could not be reached or did not answer in time.</summary>
internal sealed class ClusterStoreException(string message, Exception? inner = null) : Exception(message, inner);
