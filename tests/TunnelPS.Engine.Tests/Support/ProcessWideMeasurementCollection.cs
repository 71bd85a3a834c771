namespace TunnelPS.Engine.Tests.Support;

/// <summary>
/// Tests that read process-wide figures (the static TunnelPS meter) run alone, so that no other test's tunnels move
/// the counters they check.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideMeasurementCollection
{
    public const string Name = "Process-wide measurement";
}
