namespace TunnelPS.Bench.Soak;

/// <summary>The client child's own view: its session, background work and what its capture rings hold.</summary>
internal sealed record ClientFigures
{
    public string Status { get; init; } = "";
    public string ClientId { get; init; } = "";
    public int ActiveWork { get; init; }
    public long ProxyDials { get; init; }
    public int Tunnels { get; init; }
    public int CapturedExchanges { get; init; }
    public long CapturedBodyBytes { get; init; }
    public Dictionary<string, long> Counters { get; init; } = [];
    public Dictionary<string, long> Logs { get; init; } = [];
}
