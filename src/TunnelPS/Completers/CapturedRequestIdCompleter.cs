using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Language;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Completers;

/// <summary>
/// Completes -Id of Invoke-TunnelReplay and Get-TunnelRequest with the ids of the captured requests (of the -Tunnel
/// tunnels when that is typed, else of every tunnel and the imported requests), newest first, each with its method,
/// path and status as tooltip ("GET /api/x → 500").
/// </summary>
public sealed class CapturedRequestIdCompleter : SafeArgumentCompleter
{
    /// <summary>Ids that start with <paramref name="wordToComplete"/>, newest first.</summary>
    private protected override IEnumerable<CompletionResult> Complete(string wordToComplete, IDictionary fakeBoundParameters) =>
        Candidates(wordToComplete, fakeBoundParameters);

    // Separate method so that the engine types are only needed once completion actually runs.
    private static List<CompletionResult> Candidates(string wordToComplete, IDictionary fakeBoundParameters)
    {
        WildcardPattern pattern = CompletionValue.Prefix(wordToComplete);
        return CapturedRequests.Of(fakeBoundParameters)
            .OrderByDescending(e => e.Id)
            .Select(e => (Exchange: e, Id: e.Id.ToString(CultureInfo.InvariantCulture)))
            .Where(e => pattern.IsMatch(e.Id))
            .Select(e => CompletionValue.Result(e.Id, Describe(e.Exchange), $"{e.Id} {e.Exchange.Method} {e.Exchange.Target}"))
            .ToList();
    }

    private static string Describe(CapturedExchange exchange) => exchange.Status > 0
        ? string.Create(CultureInfo.InvariantCulture, $"{exchange.Method} {exchange.Target} → {exchange.Status}")
        : $"{exchange.Method} {exchange.Target} → no response{(exchange.Error is null ? string.Empty : ": " + exchange.Error)}";
}
