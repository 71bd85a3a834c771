using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>Server log events (fixed ids, a connection id in each, tokens never logged).</summary>
internal static partial class ServerLog
{
    [LoggerMessage(1000, LogLevel.Information, "Server listening: tunnel protocol and HTTPS on {TlsEndpoint}, HTTP on {HttpEndpoint}, domain {Domain}")]
    public static partial void Listening(ILogger logger, string tlsEndpoint, string httpEndpoint, string domain);

    [LoggerMessage(1001, LogLevel.Information, "[{ConnectionId}] Session {Session} of {Tenant} logged in from {RemoteAddress} ({Os}/{Arch}, {MmVersion})")]
    public static partial void ClientLoggedIn(ILogger logger, long connectionId, string session, string tenant, string remoteAddress, string os, string arch, string mmVersion);

    [LoggerMessage(1002, LogLevel.Warning, "[{ConnectionId}] Login from {RemoteAddress} refused ({Kind}): {Reason} ({Suppressed} more refused for this reason from this address since the last warning)")]
    public static partial void LoginRefused(ILogger logger, long connectionId, string remoteAddress, string kind, string reason, long suppressed);

    [LoggerMessage(1003, LogLevel.Information, "[{ConnectionId}] Tunnel {Url} opened for session {Session}")]
    public static partial void TunnelOpened(ILogger logger, long connectionId, string url, string session);

    [LoggerMessage(1004, LogLevel.Information, "[{ConnectionId}] Tunnel request refused for session {Session}: {Reason}")]
    public static partial void TunnelRefused(ILogger logger, long connectionId, string session, string reason);

    [LoggerMessage(1005, LogLevel.Information, "[{ConnectionId}] Session {Session} ended: {Reason}")]
    public static partial void SessionEnded(ILogger logger, long connectionId, string session, string reason);

    [LoggerMessage(1019, LogLevel.Warning, "[{ConnectionId}] Session {Session}: its {Links} multiplexed link(s) carry {MaxStreams} streams each, the most they may (MaxStreamsPerLink); a visitor waits for one to end ({Suppressed} more since the last warning)")]
    public static partial void LinksFull(ILogger logger, long connectionId, string session, int links, int maxStreams, long suppressed);

    [LoggerMessage(1006, LogLevel.Debug, "[{ConnectionId}] Connection from {RemoteAddress} closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, long connectionId, string remoteAddress, string reason);

    [LoggerMessage(1007, LogLevel.Debug, "[{ConnectionId}] Visitor {RemoteAddress} for {Url} has no proxy connection: {Reason}")]
    public static partial void NoProxyConnection(ILogger logger, long connectionId, string remoteAddress, string url, string reason);

    [LoggerMessage(1008, LogLevel.Error, "Server loop {Loop} failed")]
    public static partial void LoopFailed(ILogger logger, string loop, Exception exception);

    [LoggerMessage(1009, LogLevel.Information, "[{ConnectionId}] Tunnel {Url} closed")]
    public static partial void TunnelClosed(ILogger logger, long connectionId, string url);

    [LoggerMessage(1010, LogLevel.Warning, "Connection refused: {Limit} ({Suppressed} more refused since the last warning)")]
    public static partial void ConnectionLimitReached(ILogger logger, string limit, long suppressed);

    [LoggerMessage(1011, LogLevel.Warning, "Accepting on {Endpoint} failed ({Error}); retrying in {DelayMs} ms ({Suppressed} more failures since the last warning)")]
    public static partial void AcceptFailed(ILogger logger, string endpoint, string error, long delayMs, long suppressed);

    [LoggerMessage(1012, LogLevel.Warning, "No auth token is set, so the server listens on loopback only ({Endpoints}): only this computer can open tunnels or visit them. Give -AuthToken (or -AuthTokenFile) to serve other hosts, or -AllowAnonymous to let anyone open tunnels")]
    public static partial void LoopbackOnly(ILogger logger, string endpoints);

    [LoggerMessage(1018, LogLevel.Warning, "The server has no auth token and listens on {Endpoints} (-AllowAnonymous): anyone who reaches it can open tunnels")]
    public static partial void AnonymousPublic(ILogger logger, string endpoints);

    [LoggerMessage(1013, LogLevel.Warning, "[{ConnectionId}] Proxy connection from {RemoteAddress} refused: {Reason} ({Suppressed} more since the last warning)")]
    public static partial void ProxyRefused(ILogger logger, long connectionId, string remoteAddress, string reason, long suppressed);

    [LoggerMessage(1014, LogLevel.Warning, "The token file {Path} could not be reloaded; the previous tokens stay in force until it can: {Reason}")]
    public static partial void TokenFileReloadFailed(ILogger logger, string path, string reason);

    [LoggerMessage(1050, LogLevel.Warning, "The token file {Path} has no token list (it is empty, holds only comments, or 'tokens:' has nothing under it), so the {Count} tokens in force are kept: an editor leaves the file so for a moment while it saves. To remove every token, write 'tokens: []'")]
    public static partial void TokenFileWithoutList(ILogger logger, string path, int count);

    [LoggerMessage(1015, LogLevel.Information, "Tokens loaded: {Count} tenant(s) from {Source}")]
    public static partial void TokensLoaded(ILogger logger, int count, string source);

    [LoggerMessage(1016, LogLevel.Debug, "[{ConnectionId}] Visitor {RemoteAddress} refused for {Url}: {Reason}")]
    public static partial void VisitorRefused(ILogger logger, long connectionId, string remoteAddress, string url, string reason);

    [LoggerMessage(1017, LogLevel.Debug, "[{ConnectionId}] Visitor {RemoteAddress} disconnected: {Deadline}")]
    public static partial void DeadlineMissed(ILogger logger, long connectionId, string remoteAddress, string deadline);
}
