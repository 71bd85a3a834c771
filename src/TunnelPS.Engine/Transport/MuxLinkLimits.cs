using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// The bounds of one multiplexed link, the same on both sides: how many streams it carries at once and how long the
/// frames queued for the peer may wait with no write completing. The link reads them at construction.
/// </summary>
internal sealed record MuxLinkLimits
{
    /// <summary>The default of <see cref="MaxStreams"/>: at most 64 MiB of receive windows (256 KiB each) per link.</summary>
    public const int DefaultMaxStreams = 256;

    public static MuxLinkLimits Default { get; } = new();

    /// <summary>
    /// The most streams open on the link at once. A peer's Open beyond it is answered with Reset (the peer's visitor
    /// fails, nothing else does); a local <see cref="MuxLink.Open"/> beyond it throws <see cref="MuxStreamLimitException"/>.
    /// </summary>
    public int MaxStreams { get; init; } = DefaultMaxStreams;

    /// <summary>
    /// How long frames may wait for the peer with no write to it completing (a peer that does not read) before the link
    /// is closed. Checked every second (every quarter of it when it is shorter than 4 s).
    /// </summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Where the link logs a write deadline that passed and the streams it refuses (throttled).</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>
    /// Lets the link's warnings through at most once per interval per kind, over every link that shares it (a server
    /// passes its one throttle: a peer that opens link after link cannot flood the log); null: one per link, 30 s.
    /// </summary>
    public LogThrottle? Throttle { get; init; }

    /// <summary>Names the link in its log lines (the session or node it belongs to).</summary>
    public string Name { get; init; } = "";
}
