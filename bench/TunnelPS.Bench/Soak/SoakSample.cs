namespace TunnelPS.Bench.Soak;

/// <summary>Both children's stats at one moment of the soak, what the parent's local services held then, and the parent's CPU time.</summary>
internal sealed record SoakSample(TimeSpan At, string Phase, ChildStats Server, ChildStats Client, int ServiceConnections, double ParentCpuSeconds);
