using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>Server log events (fixed ids, a connection id in each, tokens never logged).</summary>
internal static partial class ServerLog
{
    [LoggerMessage(1000, LogLevel.Information, "Server listening: tunnel protocol and HTTPS on {TlsEndpoint}, HTTP on {HttpEndpoint}, domain {Domain}")]
    public static partial void Listening(ILogger logger, string tlsEndpoint, string httpEndpoint, string domain);

    [LoggerMessage(1001, LogLevel.Information, "[{ConnectionId}] Client {ClientId} logged in from {RemoteAddress} ({Os}/{Arch}, {MmVersion})")]
    public static partial void ClientLoggedIn(ILogger logger, long connectionId, string clientId, string remoteAddress, string os, string arch, string mmVersion);

    [LoggerMessage(1002, LogLevel.Warning, "[{ConnectionId}] Login from {RemoteAddress} refused: {Reason}")]
    public static partial void LoginRefused(ILogger logger, long connectionId, string remoteAddress, string reason);

    [LoggerMessage(1003, LogLevel.Information, "[{ConnectionId}] Tunnel {Url} opened for client {ClientId}")]
    public static partial void TunnelOpened(ILogger logger, long connectionId, string url, string clientId);

    [LoggerMessage(1004, LogLevel.Information, "[{ConnectionId}] Tunnel request refused for client {ClientId}: {Reason}")]
    public static partial void TunnelRefused(ILogger logger, long connectionId, string clientId, string reason);

    [LoggerMessage(1005, LogLevel.Information, "[{ConnectionId}] Client {ClientId} session ended: {Reason}")]
    public static partial void SessionEnded(ILogger logger, long connectionId, string clientId, string reason);

    [LoggerMessage(1006, LogLevel.Debug, "[{ConnectionId}] Connection from {RemoteAddress} closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, long connectionId, string remoteAddress, string reason);

    [LoggerMessage(1007, LogLevel.Debug, "[{ConnectionId}] Visitor {RemoteAddress} for {Url} has no proxy connection: {Reason}")]
    public static partial void NoProxyConnection(ILogger logger, long connectionId, string remoteAddress, string url, string reason);

    [LoggerMessage(1008, LogLevel.Error, "Server loop {Loop} failed")]
    public static partial void LoopFailed(ILogger logger, string loop, Exception exception);

    [LoggerMessage(1009, LogLevel.Information, "[{ConnectionId}] Tunnel {Url} closed")]
    public static partial void TunnelClosed(ILogger logger, long connectionId, string url);
}
