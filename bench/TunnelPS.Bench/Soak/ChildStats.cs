namespace TunnelPS.Bench.Soak;

/// <summary>What a soak child answers to "STATS": its process figures, its peaks since the last reset, and its role's figures.</summary>
internal sealed record ChildStats
{
    public required string Role { get; init; }
    public required ProcessFigures Process { get; init; }

    /// <summary>The most descriptors seen open since the last reset (sampled every second).</summary>
    public int PeakDescriptors { get; init; }

    /// <summary>The largest resident set seen since the last reset (sampled every second).</summary>
    public long PeakWorkingSet { get; init; }

    /// <summary>The highest value of each of the child's gauges since the last reset (sampled every 100 ms).</summary>
    public Dictionary<string, int> Peaks { get; init; } = [];

    public ServerFigures? Server { get; init; }
    public ClientFigures? Client { get; init; }
}
