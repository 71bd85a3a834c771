using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Client;

/// <summary>Everything a <see cref="TunnelClient"/> needs to reach its server and open its tunnels.</summary>
public sealed record TunnelClientOptions
{
    /// <summary>host:port of the server (port 443 when omitted).</summary>
    public required ServerAddress Server { get; init; }

    /// <summary>
    /// Other nodes of the same cluster as <see cref="Server"/>. With any, the client starts on a randomly chosen one of
    /// them all (trying the next while one cannot be reached), and when it loses its node it reconnects to the next one
    /// in turn, where its token takes its names and ports back.
    /// </summary>
    public IReadOnlyList<ServerAddress> FallbackServers { get; init; } = [];

    public string AuthToken { get; init; } = "";

    public ServerTrust Trust { get; init; } = new();

    /// <summary>The HTTP CONNECT proxy every control and proxy connection goes through; null dials directly.</summary>
    public ProxySettings? Proxy { get; init; }

    public required IReadOnlyList<TunnelDefinition> Tunnels { get; init; }

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan LocalConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(20);
    public TimeSpan PongTimeout { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Asks a TunnelPS server to carry visitors as streams over <see cref="LinkCount"/> multiplexed links (capability
    /// tunnelps/mux/1) instead of a pool of proxy connections; ngrok 1.x servers keep the pool.
    /// </summary>
    public bool UseMultiplexing { get; init; } = true;

    /// <summary>How many multiplexed links the client keeps open to a server that takes them.</summary>
    public int LinkCount { get; init; } = 2;

    /// <summary>
    /// Completes link and local-service receives on the runtime's socket event thread rather than queueing them to the
    /// thread pool (see <see cref="InlineCompletions"/>). On by default on machines with up to 4 cores; TUNNELPS_INLINE_COMPLETIONS=0 turns it off for the whole process, whatever this says.
    /// </summary>
    public bool InlineSocketCompletions { get; init; } = InlineCompletions.IsWorthwhile;

    /// <summary>The receive window of each multiplexed stream: the most bytes the server may send a stream ahead of the local service.</summary>
    public int StreamWindow { get; init; } = MuxLink.DefaultWindow;

    /// <summary>
    /// The most streams one multiplexed link carries at once (each holds up to <see cref="StreamWindow"/> bytes): the
    /// server's Open beyond it is answered with Reset.
    /// </summary>
    public int MaxStreamsPerLink { get; init; } = MuxLinkLimits.DefaultMaxStreams;

    /// <summary>
    /// How long frames queued for a multiplexed link may wait with no write to it completing before the link is closed
    /// (and dialled again): a server that does not read its link cannot make the client hold what it queued.
    /// </summary>
    public TimeSpan LinkWriteTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The most visitors the server may have the client serve at once, over links and pooled proxy connections
    /// together (each holds a connection to a local service). One beyond it is refused (its stream reset, its proxy
    /// connection closed) with a warning at most every 30 s.
    /// </summary>
    public int MaxOpenStreams { get; init; } = 1024;

    /// <summary>
    /// The most proxy connections dialled for the server's ReqProxy and not yet given a visitor (StartProxy). A
    /// ReqProxy beyond it is not dialled, with a warning at most every 30 s.
    /// </summary>
    public int MaxProxyDials { get; init; } = 64;

    /// <summary>How long the first login and its tunnel requests may take.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(20);

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// A copy that logs through a new <see cref="CallbackLoggerFactory"/>: for a host that must not name the logging
    /// types (the module, whose engine loads in its own context).
    /// </summary>
    public TunnelClientOptions WithLogCallback(Action<int, string, string, Exception?> sink, Func<int, bool>? isEnabled = null) =>
        this with { LoggerFactory = new CallbackLoggerFactory(sink, isEnabled) };
}
