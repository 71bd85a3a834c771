using System.Management.Automation;
using TunnelPS.Completers;
using TunnelPS.Errors;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Stop-TunnelServer</c>: stops servers self-hosted in this PowerShell process, from the
/// pipeline, by -Port, or all of them when neither is given.
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "TunnelServer", DefaultParameterSetName = PortSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(TunnelServer))]
public sealed class StopTunnelServerCommand : TunnelCmdletBase
{
    /// <summary>By TLS port, or every server of the session when -Port is omitted.</summary>
    public const string PortSet = "Port";

    /// <summary>Server objects from the pipeline.</summary>
    public const string InputObjectSet = "InputObject";

    /// <summary>The servers to stop.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    [ValidateNotNull]
    public TunnelServer[]? InputObject { get; set; }

    /// <summary>The TLS ports of the servers to stop; omitted: all of them.</summary>
    [Parameter(Position = 0, ParameterSetName = PortSet)]
    [ValidateRange(1, 65535)]
    [ArgumentCompleter(typeof(TunnelServerPortCompleter))]
    public int[]? Port { get; set; }

    /// <summary>Write each stopped server.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Stops each server given (or found).</summary>
    protected override void ProcessRecord()
    {
        foreach (TunnelServer server in SelectServers())
        {
            Stop(server);
        }
    }

    private IEnumerable<TunnelServer> SelectServers()
    {
        if (ParameterSetName == InputObjectSet)
        {
            return InputObject ?? [];
        }

        IReadOnlyList<TunnelServer> servers = SessionRegistry.Servers;
        if (Port is null)
        {
            return servers;
        }

        var selected = new List<TunnelServer>();
        foreach (int port in Port)
        {
            TunnelServer? server = servers.FirstOrDefault(s => s.Port == port);
            if (server is null)
            {
                WriteError(GetTunnelServerCommand.ServerNotFound(port));
            }
            else
            {
                selected.Add(server);
            }
        }

        return selected;
    }

    private void Stop(TunnelServer server)
    {
        if (!ShouldProcess(server.ServerAddress, "Stop tunnel server"))
        {
            return;
        }

        try
        {
            RunAndDrain(ct => server.Engine.StopAsync().WaitAsync(ct));
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            WriteError(ErrorMapper.ToErrorRecord(ex, ErrorIds.StopFailed, server));
            return;
        }

        SessionRegistry.RemoveServer(server);
        if (PassThru)
        {
            WriteObject(server);
        }
    }
}
