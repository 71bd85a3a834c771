namespace TunnelPS.Bench.Soak;

/// <summary>
/// Both children's stats at one moment of the soak, what the parent's local services held then, the parent's CPU
/// time, and the machine's 1-minute load average (other work on the machine shows there).
/// </summary>
internal sealed record SoakSample(TimeSpan At, string Phase, ChildStats Server, ChildStats Client, int ServiceConnections, double ParentCpuSeconds, string LoadAverage)
{
    /// <summary>At the start and the end: both children measured again after glibc malloc_trim(0) (memory still in use).</summary>
    public (ChildStats Server, ChildStats Client)? Trimmed { get; init; }
}
