using System.Management.Automation;
using TunnelPS.Engine;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Inspector;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// Start-Tunnel's web inspector: the session's one inspector (see <see cref="InspectorHost"/>) listens where
/// -InspectAddress says, else where the config file's <c>inspect_addr</c> says, else on 127.0.0.1:4040 or the next
/// free port; 'disabled' starts none for this command.
/// </summary>
public sealed partial class StartTunnelCommand
{
    /// <summary>Where this session's web inspector listens: host:port (port 0 for any free one), a port alone, or 'disabled'.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(Completers.InspectAddressCompleter))]
    public string? InspectAddress { get; set; }

    /// <summary>The config file read for this command (named tunnels), whose inspect_addr applies.</summary>
    private AgentConfig? _inspectConfig;

    /// <summary>Checks -InspectAddress before anything starts: a bad value is a terminating InvalidArgument error.</summary>
    private void ValidateInspectAddress()
    {
        if (InspectAddress is not null)
        {
            Parse(() => InspectorAddress.TryParse(InspectAddress, out _, out string? error) ? true : throw new TunnelConfigurationException(error), InspectAddress);
        }
    }

    /// <summary>Starts (or joins) the session's inspector for the tunnel about to open, and says where it is.</summary>
    private InspectorStart BeginInspector()
    {
        InspectorAddress? address;
        bool isDefault = false;
        if (InspectAddress is not null)
        {
            address = InspectorAddress.Parse(InspectAddress);
        }
        else
        {
            AgentConfig config = _inspectConfig ?? AdHocConfig();
            string? configured = config.InspectAddr;
            if (configured is null)
            {
                address = InspectorAddress.Default;
                isDefault = true;
            }
            else if (!InspectorAddress.TryParse(configured, out address, out string? error))
            {
                // Not reached while the config loader checks inspect_addr the same way; a tunnel never fails for it.
                WriteWarning($"{config.SourcePath}: inspect_addr: {error} The tunnel runs without the web inspector.");
                return InspectorHost.Begin(null, isDefault: false, given: false);
            }
        }

        InspectorStart start = InspectorHost.Begin(address, isDefault, given: InspectAddress is not null);
        if (start.Warning is not null)
        {
            WriteWarning(start.Warning);
        }

        if (start.Url is not null)
        {
            WriteVerbose($"Web inspector: {start.Url}");
        }

        return start;
    }
}
