using System.Globalization;
using System.Management.Automation;
using TunnelPS.Completers;
using TunnelPS.Errors;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary><c>Get-TunnelServer</c>: lists the servers self-hosted in this PowerShell process, or the nodes of their clusters.</summary>
[Cmdlet(VerbsCommon.Get, "TunnelServer", DefaultParameterSetName = ServerSet)]
[OutputType(typeof(TunnelServer), ParameterSetName = [ServerSet])]
[OutputType(typeof(TunnelServerNode), ParameterSetName = [ClusterNodeSet])]
public sealed class GetTunnelServerCommand : TunnelCmdletBase
{
    private const string ServerSet = "Server";
    private const string ClusterNodeSet = "ClusterNode";

    /// <summary>Only the servers on these TLS ports.</summary>
    [Parameter(Position = 0)]
    [ValidateRange(1, 65535)]
    [ArgumentCompleter(typeof(TunnelServerPortCompleter))]
    public int[]? Port { get; set; }

    /// <summary>Writes the nodes of each server's cluster (from the cluster store) instead of the servers.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ClusterNodeSet)]
    public SwitchParameter ClusterNode { get; set; }

    /// <summary>Writes the matching servers, oldest first (or their clusters' nodes); a port with no server is an error.</summary>
    protected override void ProcessRecord()
    {
        IReadOnlyList<TunnelServer> servers = SessionRegistry.Servers;
        if (Port is null)
        {
            foreach (TunnelServer server in servers)
            {
                Write(server);
            }

            return;
        }

        foreach (int port in Port)
        {
            TunnelServer? server = servers.FirstOrDefault(s => s.Port == port);
            if (server is null)
            {
                WriteError(ServerNotFound(port));
                continue;
            }

            Write(server);
        }
    }

    private void Write(TunnelServer server)
    {
        if (!ClusterNode)
        {
            WriteObject(server);
            return;
        }

        if (server.NodeName is null)
        {
            return;
        }

        try
        {
            foreach (var node in RunAndDrain(ct => server.Engine.GetClusterNodesAsync(ct)))
            {
                WriteObject(new TunnelServerNode(node, server.ServerAddress));
            }
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            WriteError(ErrorMapper.ToErrorRecord(ex, ErrorIds.ClusterUnavailable, server));
        }
    }

    internal static ErrorRecord ServerNotFound(int port) => new(
        new ItemNotFoundException(string.Create(CultureInfo.InvariantCulture, $"No tunnel server of this session listens on port {port}. Get-TunnelServer lists them.")),
        ErrorIds.ServerNotFound,
        ErrorCategory.ObjectNotFound,
        port);
}
