using System.Management.Automation;
using TunnelPS.Completers;
using TunnelPS.Display;
using TunnelPS.Errors;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Show-TunnelStatus</c>: shows the live status of tunnels already running in this session (all of them by default):
/// a screen refreshed in place on an interactive console, plain lines elsewhere. It returns when every tunnel shown has
/// stopped, or on Ctrl+C, which closes the view and leaves the tunnels running.
/// </summary>
[Cmdlet(VerbsCommon.Show, "TunnelStatus", DefaultParameterSetName = NameSet)]
public sealed class ShowTunnelStatusCommand : TunnelCmdletBase
{
    /// <summary>Tunnels chosen by name.</summary>
    public const string NameSet = "Name";

    /// <summary>Tunnels given as objects (Get-Tunnel | Show-TunnelStatus).</summary>
    public const string InputObjectSet = "InputObject";

    private readonly List<Tunnel> _tunnels = [];

    /// <summary>Only the tunnels with these names (wildcards allowed); all running tunnels by default.</summary>
    [Parameter(Position = 0, ParameterSetName = NameSet)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TunnelNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>The tunnels to show, from Get-Tunnel or Start-Tunnel.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    [ValidateNotNull]
    public Tunnel[]? InputObject { get; set; }

    /// <summary>Collects the tunnels to show; a stopped one is an error.</summary>
    protected override void ProcessRecord()
    {
        IEnumerable<Tunnel> tunnels = ParameterSetName == InputObjectSet ? InputObject ?? [] : GetTunnelCommand.Select(this, Name);
        foreach (Tunnel tunnel in tunnels)
        {
            if (tunnel.Status == TunnelStatus.Stopped)
            {
                WriteError(new ErrorRecord(
                    new InvalidOperationException($"The tunnel '{tunnel.Name}' ({tunnel.PublicUrl}) has stopped: there is no live status to show. Get-Tunnel lists the running ones."),
                    ErrorIds.TunnelNotFound,
                    ErrorCategory.ObjectNotFound,
                    tunnel));
            }
            else if (!_tunnels.Contains(tunnel))
            {
                _tunnels.Add(tunnel);
            }
        }
    }

    /// <summary>Shows the collected tunnels until they stop or Ctrl+C.</summary>
    protected override void EndProcessing()
    {
        if (_tunnels.Count == 0)
        {
            if (ParameterSetName == NameSet && Name is null)
            {
                ThrowTerminatingError(new ErrorRecord(
                    new ItemNotFoundException("No tunnel runs in this session, so there is no status to show. Start one with Start-Tunnel (Start-Tunnel -Wait shows its status as it starts)."),
                    ErrorIds.TunnelNotFound,
                    ErrorCategory.ObjectNotFound,
                    null));
            }

            base.EndProcessing();
            return;
        }

        WriteVerbose($"Showing the status of {string.Join(", ", _tunnels.Select(t => t.PublicUrl))} until they stop or Ctrl+C (the tunnels keep running).");
        RunAndDrain(TunnelStatusDisplay.CreateWork(this, Bridge, _tunnels, stopOnCancel: false, "(Ctrl+C to close; tunnels keep running)"));
        base.EndProcessing();
    }
}
