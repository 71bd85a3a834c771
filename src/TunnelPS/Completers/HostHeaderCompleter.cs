using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using TunnelPS.Engine.Client;
using TunnelPS.Session;

namespace TunnelPS.Completers;

/// <summary>
/// Completes Start-Tunnel -HostHeader: 'rewrite' and 'preserve', then the local address of the -Http typed on the
/// line (host:port and host) and of the session's http tunnels.
/// </summary>
public sealed class HostHeaderCompleter : SafeArgumentCompleter
{
    /// <summary>Values that start with <paramref name="wordToComplete"/>.</summary>
    private protected override IEnumerable<CompletionResult> Complete(string wordToComplete, IDictionary fakeBoundParameters) =>
        Candidates(wordToComplete, CompletionValue.Strings(fakeBoundParameters, "Http")?.FirstOrDefault());

    // Separate method so that the engine types are only needed once completion actually runs.
    private static List<CompletionResult> Candidates(string wordToComplete, string? http)
    {
        var values = new List<(string Value, string ToolTip)>
        {
            ("rewrite", "The local service gets its own address as Host (host:port of -Http); the visitor's stays in X-Forwarded-Host."),
            ("preserve", "The local service gets the visitor's Host unchanged (the default)."),
        };
        foreach (LocalTarget local in LocalTargets(http))
        {
            var plain = new LocalTarget(local.Host, local.Port);
            values.Add((plain.ToString(), $"The local service gets Host: {plain}"));
            values.Add((local.Host, $"The local service gets Host: {local.Host}"));
        }

        WildcardPattern pattern = CompletionValue.Prefix(wordToComplete);
        return values
            .DistinctBy(v => v.Value, StringComparer.OrdinalIgnoreCase)
            .Where(v => pattern.IsMatch(v.Value))
            .Select(v => CompletionValue.Result(v.Value, v.ToolTip))
            .ToList();
    }

    /// <summary>The -Http typed on the line, then the local services of the session's http tunnels.</summary>
    private static IEnumerable<LocalTarget> LocalTargets(string? http)
    {
        if (http is not null && TryParse(http) is { } typed)
        {
            yield return typed;
        }

        foreach (Tunnel tunnel in SessionRegistry.Tunnels.Where(t => t.Protocol is "http" or "https"))
        {
            yield return tunnel.Endpoint.Definition.Local;
        }
    }

    private static LocalTarget? TryParse(string text)
    {
        try
        {
            return LocalTarget.Parse(text);
        }
        catch (Engine.TunnelException)
        {
            return null;
        }
    }
}
