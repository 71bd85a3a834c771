using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Net.NetworkInformation;
using TunnelPS.Engine.Configuration;
using TunnelPS.Session;

namespace TunnelPS.Completers;

/// <summary>
/// Completes Start-Tunnel -InspectAddress: the address of this session's running inspector (which the new tunnel
/// joins), else 127.0.0.1:4040 and the next free ports after it, then 'disabled'.
/// </summary>
public sealed class InspectAddressCompleter : SafeArgumentCompleter
{
    /// <summary>How many free ports from 4040 on are offered.</summary>
    private const int FreeOffered = 3;

    /// <summary>How far past 4040 free ports are looked for.</summary>
    private const int SearchSpan = 100;

    /// <summary>Addresses that start with <paramref name="wordToComplete"/>.</summary>
    private protected override IEnumerable<CompletionResult> Complete(string wordToComplete, IDictionary fakeBoundParameters) =>
        Candidates(wordToComplete);

    // Separate method so that the engine types are only needed once completion actually runs.
    private static List<CompletionResult> Candidates(string wordToComplete)
    {
        var values = new List<(string Value, string ToolTip)>();
        if (InspectorHost.Url is { } running)
        {
            values.Add((running.Authority, $"{running.Authority}: this session's web inspector, which the new tunnel joins"));
        }

        var listening = IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpListeners().Select(e => e.Port).ToHashSet();
        values.AddRange(Enumerable.Range(InspectorAddress.DefaultPort, SearchSpan)
            .Where(p => !listening.Contains(p))
            .Take(FreeOffered)
            .Select(p => new InspectorAddress(InspectorAddress.Default.Address, p).ToString())
            .Select(a => (a, string.Create(CultureInfo.InvariantCulture, $"{a}: free, a new inspector would listen there"))));
        values.Add((InspectorAddress.Disabled, "No web inspector for the tunnels of this command."));

        WildcardPattern pattern = CompletionValue.Prefix(wordToComplete);
        return values
            .DistinctBy(v => v.Value, StringComparer.OrdinalIgnoreCase)
            .Where(v => pattern.IsMatch(v.Value))
            .Select(v => CompletionValue.Result(v.Value, v.ToolTip))
            .ToList();
    }
}
