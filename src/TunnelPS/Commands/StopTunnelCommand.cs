using System.Management.Automation;
using TunnelPS.Completers;
using TunnelPS.Errors;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Stop-Tunnel</c>: closes public URLs opened in this PowerShell process, by name or from
/// the pipeline. Closing one URL of a client frees its name on the server at once; closing the
/// last one stops the client. It closes exactly the URLs given: one object of an http+https pair
/// closes that URL only (the other stays Online); -Name selects both.
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "Tunnel", DefaultParameterSetName = NameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(Tunnel))]
public sealed class StopTunnelCommand : TunnelCmdletBase
{
    /// <summary>By name, with wildcards.</summary>
    public const string NameSet = "Name";

    /// <summary>Tunnel objects from the pipeline.</summary>
    public const string InputObjectSet = "InputObject";

    /// <summary>The names of the tunnels to stop (wildcards allowed).</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = NameSet)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TunnelNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>The tunnels to stop.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    [ValidateNotNull]
    public Tunnel[]? InputObject { get; set; }

    /// <summary>Write each stopped tunnel.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Stops each tunnel given (or found).</summary>
    protected override void ProcessRecord()
    {
        IEnumerable<Tunnel> tunnels = ParameterSetName == InputObjectSet
            ? InputObject ?? []
            : GetTunnelCommand.Select(this, Name);
        foreach (Tunnel tunnel in tunnels)
        {
            Stop(tunnel);
        }
    }

    private void Stop(Tunnel tunnel)
    {
        if (!ShouldProcess($"{tunnel.Name} ({tunnel.PublicUrl})", "Stop tunnel"))
        {
            return;
        }

        try
        {
            RunAndDrain(ct => tunnel.Client.CloseEndpointAsync(tunnel.Endpoint, ct));
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            WriteError(ErrorMapper.ToErrorRecord(ex, ErrorIds.StopFailed, tunnel));
            return;
        }

        SessionRegistry.RemoveTunnel(tunnel);
        if (PassThru)
        {
            WriteObject(tunnel);
        }
    }
}
