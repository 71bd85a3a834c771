using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace TunnelPS.Completers;

/// <summary>
/// Completes -Method of Get-TunnelRequest and Wait-TunnelRequest: the methods seen in the captures (of the -Tunnel
/// typed on the line), most frequent first, then the standard HTTP methods not seen.
/// </summary>
public sealed class RequestMethodCompleter : SafeArgumentCompleter
{
    /// <summary>The methods RFC 9110 and RFC 5789 define, in the order people use them most.</summary>
    private static readonly string[] s_standard = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE"];

    /// <summary>Methods that start with <paramref name="wordToComplete"/>.</summary>
    private protected override IEnumerable<CompletionResult> Complete(string wordToComplete, IDictionary fakeBoundParameters) =>
        Candidates(wordToComplete, fakeBoundParameters);

    // Separate method so that the engine types are only needed once completion actually runs.
    private static List<CompletionResult> Candidates(string wordToComplete, IDictionary fakeBoundParameters)
    {
        WildcardPattern pattern = CompletionValue.Prefix(wordToComplete);
        IEnumerable<(string Method, string ToolTip)> seen = CapturedRequests.Of(fakeBoundParameters)
            .Where(e => !string.IsNullOrEmpty(e.Method))
            .GroupBy(e => e.Method, StringComparer.OrdinalIgnoreCase)
            .OrderByDescending(g => g.Count())
            .ThenBy(g => g.Key, StringComparer.OrdinalIgnoreCase)
            .Select(g => (g.Key, string.Create(CultureInfo.InvariantCulture, $"{g.Key}: {g.Count()} captured request{(g.Count() == 1 ? string.Empty : "s")}")));
        IEnumerable<(string Method, string ToolTip)> standard = s_standard.Select(m => (m, $"{m}: none captured"));
        return seen.Concat(standard)
            .DistinctBy(m => m.Method, StringComparer.OrdinalIgnoreCase)
            .Where(m => pattern.IsMatch(m.Method))
            .Select(m => CompletionValue.Result(m.Method, m.ToolTip))
            .ToList();
    }
}
