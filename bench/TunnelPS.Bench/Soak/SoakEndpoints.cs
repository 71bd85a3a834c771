namespace TunnelPS.Bench.Soak;

/// <summary>Where the soak's server child listens, and the hosts its client child holds.</summary>
internal sealed record SoakEndpoints(int TlsPort, int HttpPort, string Thumbprint, string AppHost, string GarbageHost, IReadOnlyList<string> IdleHosts, int AppPort, int GarbagePort);
