using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace TunnelPS.Completers;

/// <summary>
/// Completes -Status of Get-TunnelRequest and Wait-TunnelRequest with the status codes seen in the captures (of the
/// -Tunnel typed on the line), in numeric order, each with its reason and how many requests got it as tooltip.
/// </summary>
public sealed class RequestStatusCompleter : SafeArgumentCompleter
{
    /// <summary>Status codes that start with <paramref name="wordToComplete"/>.</summary>
    private protected override IEnumerable<CompletionResult> Complete(string wordToComplete, IDictionary fakeBoundParameters) =>
        Candidates(wordToComplete, fakeBoundParameters);

    // Separate method so that the engine types are only needed once completion actually runs.
    private static List<CompletionResult> Candidates(string wordToComplete, IDictionary fakeBoundParameters)
    {
        WildcardPattern pattern = CompletionValue.Prefix(wordToComplete);
        return CapturedRequests.Of(fakeBoundParameters)
            .Where(e => e.Status > 0)
            .GroupBy(e => e.Status)
            .OrderBy(g => g.Key)
            .Select(g => (Status: g.Key.ToString(CultureInfo.InvariantCulture), Reason: g.First().Reason, Count: g.Count()))
            .Where(g => pattern.IsMatch(g.Status))
            .Select(g => CompletionValue.Result(
                g.Status,
                string.Create(CultureInfo.InvariantCulture, $"{g.Status}{(string.IsNullOrEmpty(g.Reason) ? string.Empty : " " + g.Reason)}: {g.Count} captured request{(g.Count == 1 ? string.Empty : "s")}")))
            .ToList();
    }
}
