using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>Log messages of the splice loop (Transport/Splicer); event ids 3100-3199.</summary>
internal static partial class SpliceLog
{
    [LoggerMessage(3100, LogLevel.Debug, "[{ConnectionId}] The splice's observer failed ({Step}); the bytes went on, the observer missed them: {Reason}")]
    public static partial void ObserverFailed(ILogger logger, long connectionId, string step, string reason);

    [LoggerMessage(3101, LogLevel.Debug, "[{ConnectionId}] The visitor was gone before the local service's last answer reached it: {Reason}")]
    public static partial void VisitorGone(ILogger logger, long connectionId, string reason);
}
