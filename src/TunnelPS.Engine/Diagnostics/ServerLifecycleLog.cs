using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>Debug messages of the server's own housekeeping, for failures it handles and goes on from; event ids 1150-1169.</summary>
internal static partial class ServerLifecycleLog
{
    [LoggerMessage(1150, LogLevel.Debug, "The server's {Loop} loop ended as the server stopped: {Reason}")]
    public static partial void LoopEndedAtStop(ILogger logger, string loop, string reason);

    [LoggerMessage(1151, LogLevel.Debug, "Stopping: the server stopped waiting for its loops and connections ({Reason}); what is left ends with its sockets")]
    public static partial void StopWaitCut(ILogger logger, string reason);

    [LoggerMessage(1152, LogLevel.Debug, "[{ConnectionId}] Session {Session}: asking for pooled proxy connections failed; the next tick asks again: {Reason}")]
    public static partial void PoolFillFailed(ILogger logger, long connectionId, string session, string reason);

    [LoggerMessage(1153, LogLevel.Debug, "[{ConnectionId}] Session {Session}: its send loop ended: {Reason}")]
    public static partial void SendLoopEnded(ILogger logger, long connectionId, string session, string reason);

    [LoggerMessage(1154, LogLevel.Debug, "[{ConnectionId}] Session {Session} was ended twice; the second end ({Reason}) found it ended already")]
    public static partial void EndedTwice(ILogger logger, long connectionId, string session, string reason);

    [LoggerMessage(1155, LogLevel.Debug, "TCP port {Port} of the range could not be bound, the next one is tried: {Reason}")]
    public static partial void PortUnavailable(ILogger logger, int port, string reason);

    [LoggerMessage(1156, LogLevel.Debug, "A refused connection from {RemoteAddress} could not be told why: {Reason}")]
    public static partial void RefusalNotSent(ILogger logger, string remoteAddress, string reason);

    [LoggerMessage(1157, LogLevel.Debug, "A listener's accept loop ended as it closed: {Reason}")]
    public static partial void AcceptLoopEnded(ILogger logger, string reason);

    [LoggerMessage(1158, LogLevel.Debug, "[{ConnectionId}] Session {Session}: its receive loop was stopped from this side")]
    public static partial void ReceiveLoopStopped(ILogger logger, long connectionId, string session);
}
