using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>What a starting server turned off because the platform lacks a call (docs/platforms.md).</summary>
internal static partial class PlatformLog
{
    [LoggerMessage(5200, LogLevel.Information, "Platform ({Os}, {Architecture}): {Feature} is off: {Fallback}")]
    public static partial void FeatureOff(ILogger logger, string os, string architecture, string feature, string fallback);
}
