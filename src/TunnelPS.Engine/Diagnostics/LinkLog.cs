using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>Multiplexed link log events, on both sides of a link (fixed ids).</summary>
internal static partial class LinkLog
{
    [LoggerMessage(3000, LogLevel.Warning, "Multiplexed link {Link} closed: {Reason} ({Suppressed} more since the last warning)")]
    public static partial void WriteTimedOut(ILogger logger, string link, string reason, long suppressed);

    [LoggerMessage(3001, LogLevel.Warning, "Multiplexed link {Link} refused a stream: {Reason} ({Suppressed} more since the last warning)")]
    public static partial void StreamRefused(ILogger logger, string link, string reason, long suppressed);

    [LoggerMessage(3002, LogLevel.Debug, "Multiplexed link {Link} stops reading: {Bytes} bytes of answers wait for a peer that does not read them ({Suppressed} more since the last message)")]
    public static partial void ReadsPaused(ILogger logger, string link, int bytes, long suppressed);

    [LoggerMessage(3003, LogLevel.Debug, "Multiplexed link {Link}: its write deadline could not be checked: {Reason}")]
    public static partial void CheckFailed(ILogger logger, string link, string reason);
}
