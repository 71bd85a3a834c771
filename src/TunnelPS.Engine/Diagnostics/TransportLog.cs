using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>Transport log events shared by the server and the client (fixed ids).</summary>
internal static partial class TransportLog
{
    [LoggerMessage(5000, LogLevel.Information, "{Description}")]
    private static partial void InlineCompletionsState(ILogger logger, string description);

    [LoggerMessage(5001, LogLevel.Warning, "{Description}")]
    private static partial void InlineCompletionsMissing(ILogger logger, string description);

    /// <summary>
    /// The line a server or client logs when it starts (its logger's category says which): whether its sockets complete inline and why; a warning when the
    /// runtime's hook is missing where it was expected (see <see cref="InlineCompletions"/>).
    /// </summary>
    public static void InlineCompletionsAtStart(ILogger logger, bool requested)
    {
        var description = InlineCompletions.Describe(requested, out var unexpected);
        if (unexpected)
        {
            InlineCompletionsMissing(logger, description);
        }
        else
        {
            InlineCompletionsState(logger, description);
        }
    }
}
