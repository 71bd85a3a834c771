using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>Transport log events shared by the server and the client (fixed ids).</summary>
internal static partial class TransportLog
{
    [LoggerMessage(5000, LogLevel.Information, "{Side}: {Description}")]
    private static partial void InlineCompletionsState(ILogger logger, string side, string description);

    [LoggerMessage(5001, LogLevel.Warning, "{Side}: {Description}")]
    private static partial void InlineCompletionsMissing(ILogger logger, string side, string description);

    /// <summary>
    /// The line a server or client logs when it starts: whether its sockets complete inline and why; a warning when the
    /// runtime's hook is missing where it was expected (see <see cref="InlineCompletions"/>).
    /// </summary>
    public static void InlineCompletionsAtStart(ILogger logger, string side, bool requested)
    {
        var description = InlineCompletions.Describe(requested, out var unexpected);
        if (unexpected)
        {
            InlineCompletionsMissing(logger, side, description);
        }
        else
        {
            InlineCompletionsState(logger, side, description);
        }
    }
}
