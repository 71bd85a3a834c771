using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Inspector;

/// <summary>Web inspector log events (fixed ids in the 4000s; a connection id in every per-connection message).</summary>
internal static partial class InspectorLog
{
    [LoggerMessage(4000, LogLevel.Information, "Web inspector listening on {Url}")]
    public static partial void Listening(ILogger logger, string url);

    [LoggerMessage(4001, LogLevel.Information, "Port {Port} is taken; the web inspector listens on {Url} instead")]
    public static partial void PortTaken(ILogger logger, int port, string url);

    [LoggerMessage(4002, LogLevel.Debug, "[inspector {ConnectionId}] Connection ended: {Reason}")]
    public static partial void ConnectionEnded(ILogger logger, long connectionId, string reason);

    [LoggerMessage(4003, LogLevel.Warning, "[inspector {ConnectionId}] Refused {Method} {Path}: {Reason} ({Suppressed} more refused since the last such line)")]
    public static partial void Refused(ILogger logger, long connectionId, string method, string path, string reason, long suppressed);

    [LoggerMessage(4004, LogLevel.Warning, "[inspector {ConnectionId}] {Method} {Path} failed")]
    public static partial void HandlerFailed(ILogger logger, long connectionId, string method, string path, Exception exception);

    [LoggerMessage(4005, LogLevel.Debug, "[inspector {ConnectionId}] Closed by its {Deadline} deadline")]
    public static partial void DeadlinePassed(ILogger logger, long connectionId, string deadline);

    [LoggerMessage(4006, LogLevel.Warning, "The web inspector holds {Max} connections; a new one was closed")]
    public static partial void ConnectionLimit(ILogger logger, int max);

    [LoggerMessage(4007, LogLevel.Warning, "The web inspector could not accept a connection ({Reason}); retrying in {DelayMs} ms")]
    public static partial void AcceptFailed(ILogger logger, string reason, long delayMs);

    [LoggerMessage(4008, LogLevel.Debug, "[inspector {ConnectionId}] A live stream fell {Backlog} events behind and was closed")]
    public static partial void StreamLagged(ILogger logger, long connectionId, int backlog);

    [LoggerMessage(4009, LogLevel.Information, "Web inspector on {Url} stopped")]
    public static partial void Stopped(ILogger logger, string url);
}
