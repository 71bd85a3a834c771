using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using TunnelPS.Engine;
using TunnelPS.Engine.Configuration;
using TunnelPS.Session;

namespace TunnelPS.Completers;

/// <summary>
/// Completes Start-Tunnel -ServerAddress with the addresses of the tunnel servers started in this session (as
/// Get-TunnelServer shows them), then the server_addr of the config file Start-Tunnel would read (-ConfigPath when it
/// is typed on the line, else $env:TUNNELPS_CONFIG, else ~/.tunnelps/tunnelps.yml).
/// </summary>
public sealed class ServerAddressCompleter : SafeArgumentCompleter
{
    /// <summary>Addresses that start with <paramref name="wordToComplete"/>.</summary>
    private protected override IEnumerable<CompletionResult> Complete(string wordToComplete, IDictionary fakeBoundParameters) =>
        Candidates(wordToComplete, CompletionValue.Strings(fakeBoundParameters, "ConfigPath")?.FirstOrDefault());

    // Separate method so that the engine types are only needed once completion actually runs.
    private static List<CompletionResult> Candidates(string wordToComplete, string? configPath)
    {
        var values = SessionRegistry.Servers
            .Select(s => (Value: s.ServerAddress, ToolTip: $"{s.ServerAddress}: this session's tunnel server ({s.Status}), serving *.{s.Domain}"))
            .ToList();
        if (ConfiguredServer(configPath) is ({ } configured, { } path))
        {
            values.Add((configured, $"{configured}: server_addr of {path}"));
        }

        WildcardPattern pattern = CompletionValue.Prefix(wordToComplete);
        return values
            .DistinctBy(v => v.Value, StringComparer.OrdinalIgnoreCase)
            .Where(v => pattern.IsMatch(v.Value))
            .Select(v => CompletionValue.Result(v.Value, v.ToolTip))
            .ToList();
    }

    /// <summary>The config file's server_addr and the file's path; a missing or invalid file gives none.</summary>
    private static (string? ServerAddr, string? Path) ConfiguredServer(string? configPath)
    {
        string path = AgentConfigLoader.ResolvePath(configPath);
        if (!string.IsNullOrWhiteSpace(configPath))
        {
            // As Start-Tunnel does: a relative -ConfigPath is relative to the PowerShell location, not the process's.
            using var powerShell = PowerShell.Create(RunspaceMode.CurrentRunspace);
            path = powerShell
                .AddScript("param($Path) $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)")
                .AddArgument(path)
                .Invoke<string>()
                .FirstOrDefault() ?? path;
        }

        try
        {
            return (AgentConfigLoader.LoadIfExists(path).ServerAddr, path);
        }
        catch (TunnelException)
        {
            return (null, null); // Start-Tunnel itself reports what is wrong with the file.
        }
    }
}
