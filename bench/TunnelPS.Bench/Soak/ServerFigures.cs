namespace TunnelPS.Bench.Soak;

/// <summary>The server child's own view: connections and sessions held, and what its counters and logs recorded.</summary>
internal sealed record ServerFigures
{
    public int Connections { get; init; }

    public int MaxConnections { get; init; }
    public int Sessions { get; init; }
    public int Tunnels { get; init; }
    public int ActiveWork { get; init; }
    public int IdleProxies { get; init; }
    public int Links { get; init; }
    public int DeadlineWatched { get; init; }
    public int HandshakesInProgress { get; init; }
    public int HandshakesWaiting { get; init; }

    /// <summary>TunnelPS meter counters since the start, by instrument and tag ("tunnelps.server.deadline_closes deadline=head").</summary>
    public Dictionary<string, long> Counters { get; init; } = [];

    /// <summary>Log entries at Warning and above, by level.</summary>
    public Dictionary<string, long> Logs { get; init; } = [];
}
