using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using TunnelPS.Session;

namespace TunnelPS.Completers;

/// <summary>
/// Completes Get-TunnelRequest -Tunnel with the names of the tunnels that have HTTP requests to show: the session's
/// http and https tunnels, and stopped ones whose capture is kept. tcp tunnels capture nothing and are left out.
/// </summary>
public sealed class HttpTunnelNameCompleter : IArgumentCompleter
{
    /// <summary>Names matching <paramref name="wordToComplete"/>*, each once, running tunnels first in start order.</summary>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName,
        string parameterName,
        string wordToComplete,
        CommandAst commandAst,
        IDictionary fakeBoundParameters)
    {
        try
        {
            WildcardPattern pattern = CompletionValue.Prefix(wordToComplete);
            IEnumerable<(string Name, string ToolTip)> running = SessionRegistry.Tunnels
                .Where(t => t.Protocol is "http" or "https")
                .Select(t => (t.Name, $"{t.Name}: {t.PublicUrl} -> {t.LocalAddress}"));
            IEnumerable<(string Name, string ToolTip)> captured = CaptureRegistry.Sources
                .Select(s => (s.Name, $"{s.Name}: captured requests of {string.Join(", ", s.PublicUrls)}"));
            return running.Concat(captured)
                .DistinctBy(t => t.Name, StringComparer.OrdinalIgnoreCase)
                .Where(t => pattern.IsMatch(t.Name))
                .Select(t => CompletionValue.Result(t.Name, t.ToolTip))
                .ToList();
        }
#pragma warning disable CA1031 // A completer must never throw at the user.
        catch (Exception)
#pragma warning restore CA1031
        {
            return [];
        }
    }
}
