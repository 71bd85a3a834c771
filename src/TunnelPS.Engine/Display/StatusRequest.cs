namespace TunnelPS.Engine.Display;

/// <summary>
/// One line of the status screen's request list: a captured exchange, or a visitor the client answered itself because
/// the local service did not answer (<see cref="IsLocalFailure"/>; method and path are unknown then).
/// </summary>
public sealed record StatusRequest
{
    /// <summary>When the request started (a local failure: when the dial failed).</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>The tunnel's name.</summary>
    public required string TunnelName { get; init; }

    /// <summary>GET, POST, …; empty for a local failure.</summary>
    public string Method { get; init; } = string.Empty;

    /// <summary>The request target (path and query); empty for a local failure.</summary>
    public string Target { get; init; } = string.Empty;

    /// <summary>The HTTP status sent to the visitor; 0 when there was none.</summary>
    public int Status { get; init; }

    /// <summary>The reason phrase of <see cref="Status"/>.</summary>
    public string Reason { get; init; } = string.Empty;

    /// <summary>From the first request byte to the end of the response; null when unknown.</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>What went wrong, if anything.</summary>
    public string? Error { get; init; }

    /// <summary>True for a visitor the client answered itself (502) because the local service did not answer.</summary>
    public bool IsLocalFailure { get; init; }

    /// <summary>True for a request Invoke-TunnelReplay sent.</summary>
    public bool IsReplay { get; init; }
}
