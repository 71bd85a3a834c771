using System.Management.Automation;
using TunnelPS.Configuration;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Get-TunnelConfig</c>: shows the effective agent config file (server, token masked, proxy with its password
/// masked, inspection settings, named tunnels). A missing default file gives an object with Exists = false;
/// a missing -ConfigPath file is an error.
/// </summary>
[Cmdlet(VerbsCommon.Get, "TunnelConfig")]
[OutputType(typeof(TunnelConfig))]
public sealed class GetTunnelConfigCommand : TunnelCmdletBase
{
    /// <summary>The config file; default $env:TUNNELPS_CONFIG, else ~/.tunnelps/tunnelps.yml.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string? ConfigPath { get; set; }

    /// <summary>Reads the file and writes its model.</summary>
    protected override void ProcessRecord()
    {
        string path = AgentConfigFile.ResolvePath(this, ConfigPath);
        bool required = !string.IsNullOrWhiteSpace(ConfigPath);
        var config = AgentConfigFile.Load(this, path, required);
        WriteObject(new TunnelConfig(config, path, File.Exists(path)));
    }
}
