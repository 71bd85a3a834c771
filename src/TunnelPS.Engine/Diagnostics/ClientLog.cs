using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>Client log events (fixed ids, tokens never logged).</summary>
internal static partial class ClientLog
{
    [LoggerMessage(2000, LogLevel.Information, "Logged in to {Server} as session {Session}")]
    public static partial void LoggedIn(ILogger logger, string server, string session);

    [LoggerMessage(2001, LogLevel.Information, "Tunnel {Name} online: {Url} -> {LocalAddress}")]
    public static partial void TunnelOnline(ILogger logger, string name, string url, string localAddress);

    [LoggerMessage(2002, LogLevel.Warning, "Connection to {Server} lost ({Reason}); reconnecting in {DelayMs} ms")]
    public static partial void Reconnecting(ILogger logger, string server, string reason, long delayMs);

    [LoggerMessage(2050, LogLevel.Warning, "{Reason} The server accepted this token before (it may have been removed, or the server's token file is being changed), so the client keeps trying: retrying in {DelayMs} ms with {Server}; Stop-Tunnel gives up")]
    public static partial void LoginRefusedRetrying(ILogger logger, string reason, string server, long delayMs);

    [LoggerMessage(2003, LogLevel.Debug, "[{ConnectionId}] Local service {LocalAddress} for {Url} is unavailable: {Reason}")]
    public static partial void LocalUnavailable(ILogger logger, long connectionId, string localAddress, string url, string reason);

    [LoggerMessage(2004, LogLevel.Debug, "[{ConnectionId}] Proxy connection ended: {Reason}")]
    public static partial void ProxyEnded(ILogger logger, long connectionId, string reason);

    [LoggerMessage(2005, LogLevel.Error, "Client stopped after a final error: {Reason}")]
    public static partial void Failed(ILogger logger, string reason);

    [LoggerMessage(2006, LogLevel.Warning, "Tunnel {Name} could not be re-opened after reconnecting: {Reason}")]
    public static partial void ReopenFailed(ILogger logger, string name, string reason);

    [LoggerMessage(2007, LogLevel.Debug, "[{ConnectionId}] StartProxy for unknown URL {Url}")]
    public static partial void UnknownUrl(ILogger logger, long connectionId, string url);

    [LoggerMessage(2008, LogLevel.Debug, "Multiplexed link ended: {Reason}")]
    public static partial void LinkEnded(ILogger logger, string reason);

    [LoggerMessage(2010, LogLevel.Warning, "Tunnel {Name} ({Url}) is degraded: the local service {LocalAddress} does not answer ({Reason}); visitors get an error page until it does")]
    public static partial void Degraded(ILogger logger, string name, string url, string localAddress, string reason);

    [LoggerMessage(2011, LogLevel.Information, "Tunnel {Name} ({Url}) is online again: the local service {LocalAddress} answers")]
    public static partial void Recovered(ILogger logger, string name, string url, string localAddress);

    [LoggerMessage(2021, LogLevel.Warning, "Tunnel {Name} ({Url}) is degraded: the local service {LocalAddress} does not accept connections ({Reason}); visitors' connections are closed until it does")]
    public static partial void DegradedTcp(ILogger logger, string name, string url, string localAddress, string reason);

    [LoggerMessage(2020, LogLevel.Debug, "[{ConnectionId}] Local service {LocalAddress} closed the connection before it answered a request; the visitor got a 502 that says so")]
    public static partial void LocalClosedBeforeAnswer(ILogger logger, long connectionId, string localAddress);

    [LoggerMessage(2012, LogLevel.Warning, "The server {Server} has {Max} visitors open on this client, the most it may (MaxOpenStreams): further ones are refused until some end ({Suppressed} more since the last warning)")]
    public static partial void VisitorsCapped(ILogger logger, string server, int max, long suppressed);

    [LoggerMessage(2013, LogLevel.Warning, "The server {Server} asked for more proxy connections than the {Max} the client dials at once (MaxProxyDials): the extra requests are not dialled ({Suppressed} more since the last warning)")]
    public static partial void ProxyDialsCapped(ILogger logger, string server, int max, long suppressed);

    [LoggerMessage(2009, LogLevel.Warning, "A multiplexed link failed unexpectedly; it is dialled again")]
    public static partial void LinkFailed(ILogger logger, Exception exception);
}
