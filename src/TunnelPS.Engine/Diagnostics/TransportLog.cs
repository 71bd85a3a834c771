using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>Transport log events shared by the server and the client (fixed ids).</summary>
internal static partial class TransportLog
{
    /// <summary>Whether inline socket completions are on and why (Transport's InlineCompletions.LogState says it at start).</summary>
    [LoggerMessage(5000, LogLevel.Information, "{Description}")]
    public static partial void InlineCompletionsState(ILogger logger, string description);

    /// <summary>Inline socket completions are off only because the runtime's hook is missing where it was expected.</summary>
    [LoggerMessage(5001, LogLevel.Warning, "{Description}")]
    public static partial void InlineCompletionsMissing(ILogger logger, string description);
}
