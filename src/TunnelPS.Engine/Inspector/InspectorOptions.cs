using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Engine.Inspector;

/// <summary>How an <see cref="InspectorServer"/> listens and what it allows each connection.</summary>
public sealed record InspectorOptions
{
    /// <summary>Where to listen; port 0 picks a free one.</summary>
    public InspectorAddress Address { get; init; } = InspectorAddress.Default;

    /// <summary>
    /// When the port is taken, try the next ones (<see cref="PortAttempts"/> in all), then any free port, instead of
    /// failing: what the default address does, so a second PowerShell session gets 4041.
    /// </summary>
    public bool NextFreePort { get; init; }

    /// <summary>How many consecutive ports <see cref="NextFreePort"/> tries before it takes any free one.</summary>
    public int PortAttempts { get; init; } = 20;

    /// <summary>Open connections at most (pages, API clients and live streams together); more are closed at accept.</summary>
    public int MaxConnections { get; init; } = 64;

    /// <summary>The largest request head accepted (then 431).</summary>
    public int MaxHeadSize { get; init; } = 16 * 1024;

    /// <summary>The largest request body accepted (then 413): a replay with a new body.</summary>
    public int MaxBodySize { get; init; } = 16 * 1024 * 1024;

    /// <summary>A request (head and body) must arrive within this time of its first byte.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>A keep-alive connection with no request for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A response or live event the client does not take within this time closes the connection.</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How often an idle live stream sends a comment line, so proxies and the browser keep it open.</summary>
    public TimeSpan EventKeepAlive { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Events queued for one live stream at most; a stream that falls further behind is closed (the page reconnects and reloads).</summary>
    public int MaxEventBacklog { get; init; } = 512;

    /// <summary>Replays the API runs at once; more get 429.</summary>
    public int MaxConcurrentReplays { get; init; } = 4;

    /// <summary>
    /// Serve only connections whose peer socket belongs to the user who started the inspector (or root), where the
    /// platform tells the owner (Linux: /proc/net/tcp). Off, every connection needs the key (<see cref="KeyFile"/>),
    /// as on platforms that do not tell.
    /// </summary>
    public bool IdentifyPeers { get; init; } = true;

    /// <summary>
    /// The per-user key file (created for this user only when missing) that admits a connection whose owner is not
    /// known, sent as the X-TunnelPS-Key header or the cookie the keyed link sets; the module uses
    /// ~/.tunnelps/inspector.key. It is read or made only where some peer cannot be identified (not Linux, peers not
    /// identified, or an address other than loopback). Null: such connections are refused.
    /// </summary>
    public string? KeyFile { get; init; }

    /// <summary>The version /api/status reports.</summary>
    public string Version { get; init; } = typeof(InspectorOptions).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>A copy that logs through a new <see cref="CallbackLoggerFactory"/> (for the module, which must not name the logging types).</summary>
    public InspectorOptions WithLogCallback(Action<int, string, string, Exception?> sink, Func<int, bool>? isEnabled = null) =>
        this with { LoggerFactory = new CallbackLoggerFactory(sink, isEnabled) };
}
