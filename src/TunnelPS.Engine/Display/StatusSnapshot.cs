using TunnelPS.Engine.Client;

namespace TunnelPS.Engine.Display;

/// <summary>What the status screen shows at one moment (made by <see cref="TunnelActivity.Snapshot"/>).</summary>
public sealed record StatusSnapshot
{
    /// <summary>The session status, lower case: online, connecting, reconnecting, degraded, failed or stopped.</summary>
    public required string Status { get; init; }

    /// <summary>Why the session is not online, when a tunnel says so.</summary>
    public string? Error { get; init; }

    /// <summary>The module version.</summary>
    public required string Version { get; init; }

    /// <summary>The tunnel servers (host:port) the URLs live on.</summary>
    public required IReadOnlyList<string> Servers { get; init; }

    /// <summary>The web inspector's URL, when there is one.</summary>
    public string? InspectUrl { get; init; }

    /// <summary>One per public URL.</summary>
    public required IReadOnlyList<StatusForwarding> Forwardings { get; init; }

    /// <summary>Visitor connections forwarded so far.</summary>
    public long ConnectionsTotal { get; init; }

    /// <summary>Visitor connections being served now.</summary>
    public long ConnectionsOpen { get; init; }

    /// <summary>HTTP exchanges captured since the screen opened.</summary>
    public long RequestsTotal { get; init; }

    /// <summary>HTTP exchanges captured in the last 60 seconds.</summary>
    public long RequestsPerMinute { get; init; }

    /// <summary>The median duration of the recent exchanges; null before the first.</summary>
    public TimeSpan? P50 { get; init; }

    /// <summary>The 90th percentile duration of the recent exchanges; null before the first.</summary>
    public TimeSpan? P90 { get; init; }

    /// <summary>Visitors the client answered itself (502) because the local service did not answer.</summary>
    public long LocalFailures { get; init; }

    /// <summary>The newest local failure.</summary>
    public LocalFailure? LastLocalFailure { get; init; }

    /// <summary>Tunnels shown whose exchanges are not captured (tcp, -NoInspect): they have no request lines.</summary>
    public int UncapturedTunnels { get; init; }

    /// <summary>The newest requests, the latest start first.</summary>
    public required IReadOnlyList<StatusRequest> Requests { get; init; }

    /// <summary>True once every URL shown has stopped or failed.</summary>
    public bool HasEnded { get; init; }
}
