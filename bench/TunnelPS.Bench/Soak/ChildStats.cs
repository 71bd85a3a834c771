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

/// <summary>The server child's own view: connections and sessions held, and what its counters and logs recorded.</summary>
internal sealed record ServerFigures
{
    public int Connections { get; init; }

    public int MaxConnections { get; init; }
    public int Sessions { get; init; }
    public int Tunnels { get; init; }
    public int ActiveWork { get; init; }
    public int IdleProxies { get; init; }
    public int DeadlineWatched { get; init; }
    public int HandshakesInProgress { get; init; }
    public int HandshakesWaiting { get; init; }

    /// <summary>TunnelPS meter counters since the start, by instrument and tag ("tunnelps.server.deadline_closes deadline=head").</summary>
    public Dictionary<string, long> Counters { get; init; } = [];

    /// <summary>Log entries at Warning and above, by level.</summary>
    public Dictionary<string, long> Logs { get; init; } = [];
}

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
