using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Inspection;

/// <summary>Capture log events (fixed ids 4100-4109).</summary>
internal static partial class CaptureLog
{
    [LoggerMessage(4100, LogLevel.Debug, "An ExchangeCaptured handler threw on exchange #{Id} ({Reason}); capture and the other handlers go on")]
    public static partial void SubscriberFailed(ILogger logger, long id, string reason);
}
