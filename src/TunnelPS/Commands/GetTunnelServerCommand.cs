using System.Globalization;
using System.Management.Automation;
using TunnelPS.Completers;
using TunnelPS.Hosting;

namespace TunnelPS.Commands;

/// <summary><c>Get-TunnelServer</c>: lists the servers self-hosted in this PowerShell process.</summary>
[Cmdlet(VerbsCommon.Get, "TunnelServer")]
[OutputType(typeof(TunnelServer))]
public sealed class GetTunnelServerCommand : TunnelCmdletBase
{
    /// <summary>Only the servers on these TLS ports.</summary>
    [Parameter(Position = 0)]
    [ValidateRange(1, 65535)]
    [ArgumentCompleter(typeof(TunnelServerPortCompleter))]
    public int[]? Port { get; set; }

    /// <summary>Writes the matching servers, oldest first; a port with no server is an error.</summary>
    protected override void ProcessRecord()
    {
        IReadOnlyList<TunnelServer> servers = SessionRegistry.Servers;
        if (Port is null)
        {
            WriteObject(servers, enumerateCollection: true);
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

            WriteObject(server);
        }
    }

    internal static ErrorRecord ServerNotFound(int port) => new(
        new ItemNotFoundException(string.Create(CultureInfo.InvariantCulture, $"No tunnel server of this session listens on port {port}. Get-TunnelServer lists them.")),
        ErrorIds.ServerNotFound,
        ErrorCategory.ObjectNotFound,
        port);
}
