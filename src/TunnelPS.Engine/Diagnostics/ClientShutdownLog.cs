using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>
/// Client log events of stopping and of failures that are handled where they happen (a goodbye that cannot be sent,
/// work that outlives the stop, a subscriber that throws): fixed ids 2060-2069, next to <see cref="ClientLog"/>'s.
/// </summary>
internal static partial class ClientShutdownLog
{
    [LoggerMessage(2060, LogLevel.Debug, "The client's supervisor ended: the client is stopping")]
    public static partial void SupervisorEnded(ILogger logger);

    [LoggerMessage(2061, LogLevel.Debug, "CloseTunnel for {Url} was not sent ({Reason}); the server frees the name when the session ends")]
    public static partial void CloseNotSent(ILogger logger, string url, string reason);

    [LoggerMessage(2062, LogLevel.Debug, "Stopping: background work did not end cleanly ({Reason}); the client stops anyway")]
    public static partial void WorkNotEnded(ILogger logger, string reason);

    [LoggerMessage(2063, LogLevel.Error, "Stopping the client failed; it is marked stopped anyway")]
    public static partial void StopFailed(ILogger logger, Exception exception);

    [LoggerMessage(2064, LogLevel.Debug, "A LocalFailed handler of {Url} threw ({Reason}); the tunnel goes on")]
    public static partial void SubscriberFailed(ILogger logger, string url, string reason);
}
