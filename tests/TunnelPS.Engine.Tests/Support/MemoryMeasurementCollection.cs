namespace TunnelPS.Engine.Tests.Support;

/// <summary>Tests that measure the process heap run alone, so other tests' allocations do not blur the figure.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurementCollection
{
    public const string Name = "Memory measurement";
}
