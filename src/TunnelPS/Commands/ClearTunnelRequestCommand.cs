using System.Management.Automation;
using TunnelPS.Completers;
using TunnelPS.Errors;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Clear-TunnelRequest</c>: empties the capture of the given tunnels (all by default, imported
/// requests included); -All also forgets stopped tunnels and their captures.
/// </summary>
[Cmdlet(VerbsCommon.Clear, "TunnelRequest", DefaultParameterSetName = TunnelSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(void))]
public sealed class ClearTunnelRequestCommand : TunnelCmdletBase
{
    /// <summary>Clear the captures of some or all tunnels.</summary>
    public const string TunnelSet = "Tunnel";

    /// <summary>Clear and forget everything.</summary>
    public const string AllSet = "All";

    /// <summary>Only the captures of tunnels with these names (wildcards allowed).</summary>
    [Parameter(Position = 0, ParameterSetName = TunnelSet)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(HttpTunnelNameCompleter))]
    public string[]? Tunnel { get; set; }

    /// <summary>Also forget stopped tunnels and imported requests entirely.</summary>
    [Parameter(Mandatory = true, ParameterSetName = AllSet)]
    public SwitchParameter All { get; set; }

    /// <summary>Clears each matching capture.</summary>
    protected override void ProcessRecord()
    {
        if (All)
        {
            if (ShouldProcess("every captured request of this session, and the list of stopped tunnels", "Clear"))
            {
                foreach (CaptureSource source in CaptureRegistry.Sources)
                {
                    source.Store.Clear();
                }

                // Running tunnels stay listed (emptied): only stopped tunnels and imports are forgotten.
                CaptureRegistry.ForgetStopped(SessionRegistry.Tunnels
                    .Where(t => t.Status != TunnelStatus.Stopped)
                    .Select(t => t.Name)
                    .ToHashSet(StringComparer.OrdinalIgnoreCase));
            }

            return;
        }

        IReadOnlyList<CaptureSource> sources = CaptureRegistry.Match(Tunnel);
        if (Tunnel is not null)
        {
            foreach (string name in Tunnel.Where(n => !WildcardPattern.ContainsWildcardCharacters(n)))
            {
                if (!sources.Any(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)))
                {
                    WriteError(new ErrorRecord(
                        new ItemNotFoundException($"No tunnel named '{name}' has captured requests in this session."),
                        ErrorIds.TunnelNotFound,
                        ErrorCategory.ObjectNotFound,
                        name));
                }
            }
        }

        foreach (CaptureSource source in sources)
        {
            if (ShouldProcess($"captured requests of tunnel '{source.Name}' ({source.Store.Count})", "Clear"))
            {
                source.Store.Clear();
            }
        }

        if (Tunnel is null && ShouldProcess($"imported requests ({CaptureRegistry.Imported.Count})", "Clear"))
        {
            CaptureRegistry.Imported.Clear();
        }
    }
}
